/**
 * `emitters.knative.sink.ref`: the sink read through the (fake) Kubernetes API, as Knative
 * resolves a destination, and followed when it moves.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dispatcher } from '../../src/delivery/dispatcher';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { KnativeEmitter, type KnativeSettings } from '../../src/emitters/knative';
import { ReferencedSink, type SinkReference } from '../../src/emitters/knative-sink';
import { KubernetesClient } from '../../src/emitters/kubernetes-client';
import { Metrics } from '../../src/observability/metrics';
import { makeEvent, settings, tempDir } from '../delivery/support';
import { waitFor } from '../helpers/wait';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { FakeKubernetesApi, type KubernetesObject } from '../fakes/kubernetes-api';
import { deliveryError } from '../helpers/delivery';
import { memoryLogger } from '../helpers/logger';

const API_TOKEN = 'service-account-token-0123456789';
const BROKER_REF: SinkReference = {
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Broker',
  name: 'default',
  namespace: 'registry-events',
};

function broker(url: string | undefined, ready?: { reason: string; message: string }): KubernetesObject {
  return {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    metadata: { name: 'default', namespace: 'registry-events' },
    spec: {},
    status: {
      ...(url ? { address: { url } } : {}),
      conditions: [{ type: 'Ready', status: url ? 'True' : 'False', ...ready }],
    },
  };
}

describe('KnativeEmitter with sink.ref', () => {
  let api: FakeKubernetesApi;
  let brokers: FakeKnativeBroker[];
  let emitters: KnativeEmitter[];
  let tokenDir: string;
  let now: number;

  async function startBroker(namespace: string): Promise<FakeKnativeBroker> {
    const started = await FakeKnativeBroker.start({ namespace, broker: 'default' });
    brokers.push(started);
    return started;
  }

  function emitter(sink: KnativeSettings['sink'], extra: KnativeSettings = {}): KnativeEmitter {
    const created = new KnativeEmitter(
      { sink, apiServer: api.url, tokenPath: path.join(tokenDir, 'token'), resolveIntervalSeconds: 30, ...extra },
      { logger: memoryLogger().logger },
      { clock: () => now },
    );
    emitters.push(created);
    return created;
  }

  beforeEach(async () => {
    api = await FakeKubernetesApi.start({ token: API_TOKEN });
    brokers = [];
    emitters = [];
    now = 1_000_000;
    tokenDir = mkdtempSync(path.join(os.tmpdir(), 'rg-sa-'));
    writeFileSync(path.join(tokenDir, 'token'), `${API_TOKEN}\n`);
  });

  afterEach(async () => {
    await Promise.all(emitters.map((e) => e.close()));
    await Promise.all(brokers.map((b) => b.close()));
    await api.close();
    rmSync(tokenDir, { recursive: true, force: true });
  });

  describe('a Broker whose status.address.url changes mid-run', () => {
    it('delivers to the new address once the interval has passed, reading the Broker once per interval', async () => {
      const [first, second] = [await startBroker('registry-events'), await startBroker('moved')];
      api.setObject(broker(first.url), 'brokers');
      const knative = emitter({ uri: '', ref: BROKER_REF });

      await knative.deliver(makeEvent('e1'));
      await knative.deliver(makeEvent('e2'));
      api.setObject(broker(second.url), 'brokers');
      now += 10_000;
      await knative.deliver(makeEvent('e3'));
      now += 25_000;
      await knative.deliver(makeEvent('e4'));

      expect(first.received.map((e) => e.attributes.id)).to.deep.equal(['e1', 'e2', 'e3']);
      expect(second.received.map((e) => e.attributes.id)).to.deep.equal(['e4']);
      const reads = api.requests.filter(
        (r) => r.path === '/apis/eventing.knative.dev/v1/namespaces/registry-events/brokers/default',
      );
      expect(reads).to.have.length(2);
      expect(reads[0].authorization).to.equal(`Bearer ${API_TOKEN}`);
    });

    it('reads the Broker again when its old address fails, and delivers to the new one at once', async () => {
      const [first, second] = [await startBroker('registry-events'), await startBroker('moved')];
      api.setObject(broker(first.url), 'brokers');
      const knative = emitter({ uri: '', ref: BROKER_REF });
      await knative.deliver(makeEvent('e1'));

      api.setObject(broker(second.url), 'brokers');
      await first.close();
      await knative.deliver(makeEvent('e2'));
      expect(second.received.map((e) => e.attributes.id)).to.deep.equal(['e2']);
    });

    it('fails as before when the address has not moved: a broker error stays a broker error', async () => {
      const first = await startBroker('registry-events');
      api.setObject(broker(first.url), 'brokers');
      const knative = emitter({ uri: '', ref: BROKER_REF });
      first.respondWith(503);
      const err = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(err.retryable).to.equal(true);
      expect(err.message).to.equal('knative sink answered 503');
    });
  });

  describe('a ref that does not exist yet', () => {
    it('fails retryably saying why (not found, then not ready), and delivers once it has an address', async () => {
      const target = await startBroker('registry-events');
      const knative = emitter({ uri: '', ref: BROKER_REF });

      const missing = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(missing.retryable).to.equal(true);
      expect(missing.message).to.equal(
        'knative sink Broker registry-events/default (eventing.knative.dev/v1) not found; events wait until it exists',
      );

      api.setObject(broker(undefined, { reason: 'NoAddress', message: 'the ingress is not ready' }), 'brokers');
      const notReady = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(notReady.retryable).to.equal(true);
      expect(notReady.message).to.match(
        /has no address yet \(no status\.address\.url; Ready: NoAddress: the ingress is not ready\)/,
      );

      api.setObject(broker(target.url), 'brokers');
      await knative.deliver(makeEvent('e1'));
      expect(target.received.map((e) => e.attributes.id)).to.deep.equal(['e1']);
    });

    it('keeps events pending in the store with the reason as last error, then delivers them', async () => {
      const tmp = tempDir();
      const metrics = new Metrics();
      const delivery = settings(tmp.dir, { maxAttempts: 1000, initialBackoffSeconds: 0.01, maxBackoffSeconds: 0.05 });
      const store = SqliteStore.open(delivery, { metrics });
      const target = await startBroker('registry-events');
      const knative = emitter({ uri: '', ref: BROKER_REF }, { resolveIntervalSeconds: 0.01 });
      const dispatcher = new Dispatcher(store, [knative], delivery, { metrics, pollIntervalMs: 20 });
      try {
        dispatcher.start();
        await store.accept([{ event: makeEvent('waiting'), emitters: ['knative'] }]);
        dispatcher.notify(['knative']);
        await waitFor('a failed attempt', async () => ((await store.list()).rows[0]?.attempts ?? 0) >= 2);
        const [row] = (await store.list()).rows;
        expect(row.state).to.equal('pending');
        expect(row.lastError).to.match(/Broker registry-events\/default .* not found; events wait until it exists/);
        const retried = (await metrics.deliveries.get()).values.find((v) => v.labels.outcome === 'retried');
        expect(retried?.value).to.be.greaterThan(0);

        api.setObject(broker(target.url), 'brokers');
        await waitFor('the delivery', async () => (await store.list()).rows[0]?.state === 'delivered');
        expect(target.received.map((e) => e.attributes.id)).to.deep.equal(['waiting']);
      } finally {
        await dispatcher.stop(1000);
        await store.close();
        tmp.cleanup();
      }
    });
  });

  describe('other kinds', () => {
    it("posts to a core Service's cluster DNS name, with a relative uri resolved against it", async () => {
      const service: KubernetesObject = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'event-display', namespace: 'apps' },
        spec: { ports: [{ port: 80 }] },
      };
      const ref = { apiVersion: 'v1', kind: 'Service', name: 'event-display', namespace: 'apps' };
      // The name does not resolve outside a cluster: the attempt fails on DNS, which is the point.
      const knative = emitter({ uri: '/events?from=gateway', ref }, { timeoutSeconds: 2 });
      const missing = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(missing.message).to.match(/Service apps\/event-display \(v1\) not found/);

      api.setObject(service, 'services');
      const unreachable = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(unreachable.retryable).to.equal(true);
      expect(unreachable.message).to.match(/^knative sink unreachable: .*event-display\.apps\.svc\.cluster\.local/);
      expect(api.requests.map((r) => r.path)).to.include('/api/v1/namespaces/apps/services/event-display');

      const kubernetes = new KubernetesClient({ apiServer: api.url, tokenPath: path.join(tokenDir, 'token') });
      const sink = new ReferencedSink(ref, '/events?from=gateway', kubernetes, { intervalMs: 1000 });
      try {
        expect(await sink.current()).to.equal('http://event-display.apps.svc.cluster.local/events?from=gateway');
      } finally {
        sink.close();
      }
    });

    it("resolves a Knative Service's status.address.url, and a Channel's", async () => {
      const target = await startBroker('registry-events');
      for (const [apiVersion, kind, resource] of [
        ['serving.knative.dev/v1', 'Service', 'services'],
        ['messaging.knative.dev/v1', 'Channel', 'channels'],
      ]) {
        const object = { ...broker(target.url), apiVersion, kind };
        api.setObject(object, resource);
        const knative = emitter({ uri: '', ref: { ...BROKER_REF, apiVersion, kind } });
        await knative.deliver(makeEvent(kind));
        expect(api.requests.at(-1)?.path).to.equal(
          `/apis/${apiVersion}/namespaces/registry-events/${resource}/default`,
        );
      }
      expect(target.received.map((e) => e.attributes.id)).to.deep.equal(['Service', 'Channel']);
    });
  });

  describe('when the API cannot be read', () => {
    it('says so (403 with the RBAC hint) while there is no address yet', async () => {
      api.forbid('registry-events');
      const knative = emitter({ uri: '', ref: BROKER_REF });
      const err = await deliveryError(knative.deliver(makeEvent('e1')));
      expect(err.retryable).to.equal(true);
      expect(err.message).to.match(/cannot be resolved: the Kubernetes API answered 403: .*forbidden.*the chart Role/);
    });

    it('keeps the last address when a re-read fails, rather than holding events back', async () => {
      const target = await startBroker('registry-events');
      api.setObject(broker(target.url), 'brokers');
      const knative = emitter({ uri: '', ref: BROKER_REF });
      await knative.deliver(makeEvent('e1'));
      now += 60_000;
      api.failNext(500);
      await knative.deliver(makeEvent('e2'));
      expect(target.received.map((e) => e.attributes.id)).to.deep.equal(['e1', 'e2']);
    });

    it('never sends the service-account token anywhere but the API server', async () => {
      const target = await startBroker('registry-events');
      api.setObject(broker(target.url), 'brokers');
      await emitter({ uri: '', ref: BROKER_REF }).deliver(makeEvent('e1'));
      expect(JSON.stringify(target.requests.map((r) => r.event?.headers))).to.not.include(API_TOKEN);
    });
  });
});
