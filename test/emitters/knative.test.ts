import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Joi from 'joi';
import pino from 'pino';
import { KnativeEmitter, knativeEmitterPlugin, type KnativeSection } from '../../src/emitters/knative';
import type { RegistryEvent } from '../../src/model/event';
import { FakeKnativeBroker } from '../fakes/knative-broker';

import { deliveryError } from '../helpers/delivery';
import { distributionPushByDigest } from '../helpers/sample-events';

const harborPush: RegistryEvent = {
  id: 'a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b',
  provider: 'harbor',
  source: 'brigade.sh/harbor',
  type: 'push',
  registry: 'harbor.example.com',
  repo: 'library/nginx',
  tag: 'v1.25',
  digest: 'sha256:af4b0e4f2d7c3c6f08f6a9b2d2a0c5f3e1f4d6b8a9c0e1f2a3b4c5d6e7f8a9b0',
  time: '2023-03-06T06:58:30Z',
  payload: {
    type: 'PUSH_ARTIFACT',
    occur_at: 1678085910,
    operator: 'admin',
    event_data: { repository: { repo_full_name: 'library/nginx' } },
  },
};

/** What a broker sees of `harborPush`, the same in binary and structured mode. */
const harborPushAttributes = {
  specversion: '1.0',
  id: harborPush.id,
  source: 'brigade.sh/harbor',
  type: 'sh.brigade.harbor.push',
  subject: 'library/nginx:v1.25',
  time: harborPush.time,
  datacontenttype: 'application/json',
  registry: 'harbor.example.com',
  repo: 'library/nginx',
  tag: 'v1.25',
  digest: harborPush.digest,
};

/** A repository and tag no registry would allow, but a header must carry them intact all the same. */
const awkwardValues: RegistryEvent = {
  ...harborPush,
  id: 'awkward-1',
  repo: 'team a/"quoted" 100% café',
  tag: 'v1 ünï 🐳',
};

function jsonOf(event: RegistryEvent): unknown {
  return JSON.parse(JSON.stringify(event));
}

describe('KnativeEmitter', () => {
  let broker: FakeKnativeBroker;
  let emitter: KnativeEmitter | undefined;

  beforeEach(async () => {
    broker = await FakeKnativeBroker.start({ namespace: 'registry-events', broker: 'default' });
  });

  afterEach(async () => {
    await emitter?.close();
    emitter = undefined;
    await broker.close();
  });

  describe('binary content mode (the default)', () => {
    it('posts the attributes as ce- headers and the normalised event as the JSON body', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      await emitter.deliver(harborPush);

      expect(broker.received).to.have.length(1);
      const [event] = broker.received;
      expect(event.mode).to.equal('binary');
      expect(event.contentType).to.equal('application/json');
      expect(event.attributes).to.deep.equal(harborPushAttributes);
      expect(event.data).to.deep.equal(jsonOf(harborPush));
    });

    it('omits the tag extension and uses repo@digest as subject for an untagged push', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      await emitter.deliver(distributionPushByDigest);

      const [event] = broker.received;
      expect(event.attributes.subject).to.equal(`library/test@${distributionPushByDigest.digest}`);
      expect(event.attributes).to.not.have.property('tag');
      expect(event.attributes.type).to.equal('sh.brigade.distribution.push');
    });

    it('percent-encodes header values so that the broker decodes them back exactly', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      await emitter.deliver(awkwardValues);

      const [event] = broker.received;
      expect(event.headers['ce-repo']).to.equal('team%20a/%22quoted%22%20100%25%20caf%C3%A9');
      expect(event.attributes.repo).to.equal(awkwardValues.repo);
      expect(event.attributes.tag).to.equal(awkwardValues.tag);
      expect(event.attributes.subject).to.equal(`${awkwardValues.repo}:${awkwardValues.tag}`);
      expect(event.data).to.deep.equal(jsonOf(awkwardValues));
    });

    it('applies a configured type prefix', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url, typePrefix: 'com.example.registry' });
      await emitter.deliver(harborPush);
      expect(broker.received[0].attributes.type).to.equal('com.example.registry.push');
    });

    it('keeps the connection to the broker alive between deliveries', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      for (let i = 0; i < 6; i++) await emitter.deliver({ ...harborPush, id: `keepalive-${i}` });
      expect(broker.requests).to.have.length(6);
      // Without keep-alive every delivery opens its own connection (six client ports). A socket
      // returns to the pool a moment after its response ends, so one extra connection is allowed.
      const ports = new Set(broker.requests.map((r) => r.remotePort));
      expect(ports.size).to.be.at.most(2);
    });
  });

  describe('structured content mode', () => {
    it('posts the whole event as application/cloudevents+json that passes the CloudEvents schema', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url, mode: 'structured' });
      await emitter.deliver(harborPush);

      expect(broker.requests.map((r) => [r.status, r.reason])).to.deep.equal([[202, undefined]]);
      const [event] = broker.received;
      expect(event.mode).to.equal('structured');
      expect(event.contentType).to.match(/^application\/cloudevents\+json/);
      expect(event.attributes).to.deep.equal(harborPushAttributes);
      expect(event.data).to.deep.equal(jsonOf(harborPush));
    });

    it('carries awkward values unchanged in the JSON body', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url, mode: 'structured' });
      await emitter.deliver(awkwardValues);
      expect(broker.received[0].attributes).to.include({ repo: awkwardValues.repo, tag: awkwardValues.tag });
    });
  });

  describe('broker answers', () => {
    it('succeeds on 202 with an empty body', async () => {
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      await emitter.deliver(harborPush);
      expect(broker.requests[0].status).to.equal(202);
    });

    for (const mode of ['binary', 'structured'] as const) {
      it(`sends an event the broker refuses (400) to the dead-letter store (${mode})`, async () => {
        emitter = new KnativeEmitter({ brokerURL: broker.url, mode });
        const err = await deliveryError(emitter.deliver({ ...harborPush, id: '' }));
        expect(broker.requests[0].status, broker.requests[0].reason).to.equal(400);
        expect(err.retryable).to.equal(false);
        expect(err.status).to.equal(400);
      });
    }

    it('retries when the broker does not exist (yet): 404', async () => {
      emitter = new KnativeEmitter({ brokerURL: `${broker.origin}/registry-events/not-created-yet` });
      const err = await deliveryError(emitter.deliver(harborPush));
      expect(err).to.include({ retryable: true, status: 404 });
    });

    for (const status of [404, 408, 409, 429, 500, 502, 503]) {
      it(`retries on ${status}`, async () => {
        broker.respondWith(status);
        emitter = new KnativeEmitter({ brokerURL: broker.url });
        const err = await deliveryError(emitter.deliver(harborPush));
        expect(err).to.include({ retryable: true, status });
      });
    }

    for (const status of [401, 403, 413, 415]) {
      it(`gives up on ${status}`, async () => {
        broker.respondWith(status);
        emitter = new KnativeEmitter({ brokerURL: broker.url });
        const err = await deliveryError(emitter.deliver(harborPush));
        expect(err).to.include({ retryable: false, status });
      });
    }

    it('retries when the connection is refused', async () => {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));

      emitter = new KnativeEmitter({ brokerURL: `http://127.0.0.1:${port}/registry-events/default` });
      const err = await deliveryError(emitter.deliver(harborPush));
      expect(err.retryable).to.equal(true);
      expect(err.status).to.equal(undefined);
      expect(err.message).to.match(/ECONNREFUSED/);
    });

    it('retries when the broker does not answer in time', async () => {
      const slow = await FakeKnativeBroker.start({ namespace: 'registry-events', delayMs: 2000 });
      try {
        emitter = new KnativeEmitter({ brokerURL: slow.url, timeoutSeconds: 0.2 });
        const err = await deliveryError(emitter.deliver(harborPush));
        expect(err.retryable).to.equal(true);
      } finally {
        await slow.close();
      }
    });

    it('sends a retry with the same event id, so that it is recognisable downstream', async () => {
      broker.failNext(503);
      emitter = new KnativeEmitter({ brokerURL: broker.url });
      await deliveryError(emitter.deliver(harborPush));
      await emitter.deliver(harborPush);

      expect(broker.requests.map((r) => r.status)).to.deep.equal([503, 202]);
      expect(broker.requests.map((r) => r.event?.attributes.id)).to.deep.equal([harborPush.id, harborPush.id]);
    });
  });

  describe('plugin settings', () => {
    const section = Joi.object({
      enabled: Joi.boolean().default(knativeEmitterPlugin.enabledByDefault),
      filter: Joi.object().default({}),
      ...knativeEmitterPlugin.settings,
    });

    it('is off by default, with binary mode, the reversed source as prefix and a 10 s timeout', () => {
      const { value, error } = section.validate({});
      expect(error).to.equal(undefined);
      expect(value).to.deep.equal({
        enabled: false,
        filter: {},
        brokerURL: '',
        sink: { uri: '', ref: { apiVersion: '', kind: '', name: '', namespace: '' } },
        mode: 'binary',
        typePrefix: '',
        typeTemplate: '',
        source: '',
        ceOverrides: { extensions: {} },
        timeoutSeconds: 10,
        resolveIntervalSeconds: 30,
        apiServer: '',
        tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        caPath: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        insecureSkipTLSVerify: false,
      });
    });

    it('takes a sink as a uri, or as a ref to a kind it can resolve with an optional relative uri', () => {
      const ref = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default', namespace: 'events' };
      const valid = [
        { enabled: true, sink: { uri: 'http://broker-ingress.knative-eventing.svc.cluster.local/events/default' } },
        { enabled: true, sink: { ref } },
        { enabled: true, sink: { ref, uri: '/extra' } },
        { enabled: true, sink: { ref: { ...ref, apiVersion: 'v1', kind: 'Service' } } },
        { enabled: true, sink: { ref: { ...ref, apiVersion: 'serving.knative.dev/v1', kind: 'Service' } } },
        { enabled: true, sink: { ref: { ...ref, apiVersion: 'messaging.knative.dev/v1', kind: 'Channel' } } },
      ];
      for (const input of valid) expect(section.validate(input).error, JSON.stringify(input)).to.equal(undefined);

      const refused: [unknown, RegExp][] = [
        [
          { sink: { ref: { name: 'default' } } },
          /sink\.ref must name apiVersion, kind, name and namespace \(missing: apiVersion, kind, namespace\)/,
        ],
        [
          { sink: { ref: { ...ref, kind: 'Trigger' } } },
          /sink\.ref must be one of: eventing\.knative\.dev\/v1 Broker, .*v1 Service/,
        ],
        [{ sink: { ref: { ...ref, name: 'Default' } } }, /sink\.ref\.name must be a Kubernetes name/],
        [{ sink: { ref, uri: 'http://elsewhere/x' } }, /sink\.uri must be a relative path when a ref is given/],
        [{ sink: { uri: 'ftp://broker/x' } }, /sink\.uri must be an http or https URL/],
        [{ brokerURL: 'http://a/b/c', sink: { ref } }, /sink and brokerURL both name a sink: keep one/],
      ];
      for (const [input, message] of refused) {
        const { error } = section.validate(input, { errors: { wrap: { label: false } } });
        expect(error?.message, JSON.stringify(input)).to.match(message);
      }
    });

    it('requires brokerURL once enabled', () => {
      for (const input of [{ enabled: true }, { enabled: true, brokerURL: '' }]) {
        const { error } = section.validate(input);
        expect(error?.message, JSON.stringify(input)).to.match(/brokerURL/);
      }
      const brokerURL = 'http://broker-ingress.knative-eventing.svc.cluster.local/registry-events/default';
      const { error } = section.validate({ enabled: true, brokerURL });
      expect(error).to.equal(undefined);
    });

    it('refuses an unknown mode and a brokerURL that is not http(s)', () => {
      expect(section.validate({ mode: 'batched' }).error?.message).to.match(/mode/);
      expect(section.validate({ enabled: true, brokerURL: 'ftp://broker/x' }).error?.message).to.match(/brokerURL/);
    });

    it('creates a working emitter named knative from a validated section', async () => {
      const { value } = section.validate({ enabled: true, brokerURL: broker.url, mode: 'structured' });
      emitter = knativeEmitterPlugin.create(value as KnativeSection, {
        logger: pino({ level: 'silent' }),
      }) as KnativeEmitter;
      expect(emitter.name).to.equal('knative');
      await emitter.deliver(harborPush);
      expect(broker.received[0].mode).to.equal('structured');
    });
  });
});
