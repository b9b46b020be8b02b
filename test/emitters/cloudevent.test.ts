import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import {
  defaultTypePrefix,
  encodeBinary,
  encodeHeaderValue,
  encodeStructured,
  eventSubject,
  isValidExtensionName,
  toCloudEvent,
  type CloudEvent,
} from '../../src/emitters/cloudevent';
import type { RegistryEvent } from '../../src/model/event';
import { readSchema } from '../helpers/corpus';
import { distributionPushByDigest } from '../helpers/sample-events';

const acrPush: RegistryEvent = {
  id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5',
  provider: 'acr',
  source: 'brigade.sh/acr',
  type: 'push',
  registry: 'myregistry.azurecr.io',
  repo: 'hello-world',
  tag: 'v1',
  digest: 'sha256:6f2e4b2a1b0d5e1ba5d1e7e0d7a58fa08fc1d7a6d6d4cc2bb0e2a7f6b0e5c9c1',
  time: '2017-11-17T16:52:01.343145347Z',
  payload: {
    id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5',
    action: 'push',
    target: { repository: 'hello-world', tag: 'v1' },
  },
};

const eventGridChartDelete: RegistryEvent = {
  id: '7ad08e8d-2b58-4ac4-a4d6-1f1b5b5c0c55',
  provider: 'eventgrid',
  source: 'brigade.sh/acr',
  type: 'chart_delete',
  registry: 'contoso.azurecr.io',
  repo: 'mychart',
  tag: '1.0.0',
  time: '2019-03-12T18:42:39.0000000Z',
  payload: { eventType: 'Microsoft.ContainerRegistry.ChartDeleted', data: { target: { repository: 'mychart' } } },
};

const harborUntagged: RegistryEvent = {
  id: '8f4e2a0c9b7d6e5f',
  provider: 'harbor',
  source: 'brigade.sh/harbor',
  type: 'delete',
  registry: 'harbor.example.com',
  repo: 'library/nginx',
  digest: 'sha256:af4b0e4f2d7c3c6f08f6a9b2d2a0c5f3e1f4d6b8a9c0e1f2a3b4c5d6e7f8a9b0',
  time: '2023-03-06T06:58:30Z',
  payload: { type: 'DELETE_ARTIFACT', event_data: { repository: { repo_full_name: 'library/nginx' } } },
};

const harborQuota: RegistryEvent = {
  id: '1c0a7e5d3b2f4a68',
  provider: 'harbor',
  source: 'brigade.sh/harbor',
  type: 'quota_exceeded',
  registry: 'harbor.example.com',
  time: '2023-03-06T07:00:00Z',
  payload: { type: 'QUOTA_EXCEED' },
};

describe('CloudEvent encoding of RegistryEvents', () => {
  describe('attribute mapping', () => {
    const cases: Array<{ event: RegistryEvent; type: string; subject?: string; extensions: Record<string, string> }> = [
      {
        event: acrPush,
        type: 'sh.brigade.acr.push',
        subject: 'hello-world:v1',
        extensions: { registry: 'myregistry.azurecr.io', repo: 'hello-world', tag: 'v1', digest: acrPush.digest! },
      },
      {
        event: eventGridChartDelete,
        type: 'sh.brigade.acr.chart_delete',
        subject: 'mychart:1.0.0',
        extensions: { registry: 'contoso.azurecr.io', repo: 'mychart', tag: '1.0.0' },
      },
      {
        event: harborUntagged,
        type: 'sh.brigade.harbor.delete',
        subject: `library/nginx@${harborUntagged.digest}`,
        extensions: { registry: 'harbor.example.com', repo: 'library/nginx', digest: harborUntagged.digest! },
      },
      {
        event: harborQuota,
        type: 'sh.brigade.harbor.quota_exceeded',
        subject: undefined,
        extensions: { registry: 'harbor.example.com' },
      },
      {
        event: distributionPushByDigest,
        type: 'sh.brigade.distribution.push',
        subject: `library/test@${distributionPushByDigest.digest}`,
        extensions: { registry: 'localhost:5000', repo: 'library/test', digest: distributionPushByDigest.digest! },
      },
    ];

    for (const { event, type, subject, extensions } of cases) {
      it(`maps a ${event.provider} ${event.type}`, () => {
        const cloudEvent = toCloudEvent(event);
        expect(cloudEvent.specversion).to.equal('1.0');
        expect(cloudEvent.id).to.equal(event.id);
        expect(cloudEvent.source).to.equal(event.source);
        expect(cloudEvent.type).to.equal(type);
        expect(cloudEvent.subject).to.equal(subject);
        expect(cloudEvent.time).to.equal(event.time);
        expect(cloudEvent.datacontenttype).to.equal('application/json');
        expect(cloudEvent.extensions).to.deep.equal(extensions);
        expect(cloudEvent.data).to.deep.equal(JSON.parse(JSON.stringify(event)));
        expect((cloudEvent.data as RegistryEvent).payload).to.deep.equal(event.payload);
      });
    }

    it('uses a configured type prefix instead of the reversed source', () => {
      expect(toCloudEvent(acrPush, { typePrefix: 'com.example.registry' }).type).to.equal('com.example.registry.push');
    });

    it('falls back from tag to digest to the bare repository for the subject', () => {
      expect(eventSubject({ ...acrPush, tag: undefined, digest: undefined })).to.equal('hello-world');
      expect(eventSubject({ ...acrPush, tag: undefined })).to.equal(`hello-world@${acrPush.digest}`);
      expect(eventSubject(harborQuota)).to.equal(undefined);
    });
  });

  describe('defaultTypePrefix', () => {
    const cases: Array<[string, string]> = [
      ['brigade.sh/acr', 'sh.brigade.acr'],
      ['brigade.sh/harbor', 'sh.brigade.harbor'],
      ['example.com/registry/events', 'com.example.registry.events'],
      ['https://user@registry.example.com:8443/hooks/', 'com.example.registry.hooks'],
      ['gateway', 'gateway'],
    ];
    for (const [source, prefix] of cases) {
      it(`${source} → ${prefix}`, () => expect(defaultTypePrefix(source)).to.equal(prefix));
    }
  });

  describe('header value percent-encoding (HTTP binding §3.1.3.2)', () => {
    it('encodes space, double quote, percent and non-ASCII as UTF-8 %XX', () => {
      expect(encodeHeaderValue('team a/"x" 100%/café')).to.equal('team%20a/%22x%22%20100%25/caf%C3%A9');
    });

    it('encodes control characters and characters outside the BMP', () => {
      expect(encodeHeaderValue('a\tb\nc\u007f')).to.equal('a%09b%0Ac%7F');
      expect(encodeHeaderValue('🐳')).to.equal('%F0%9F%90%B3');
    });

    it('leaves every other printable ASCII character alone', () => {
      const printable = "!#$&'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~";
      expect(encodeHeaderValue(printable)).to.equal(printable);
    });

    it('round-trips through a standard percent-decoder', () => {
      const value = 'r\u00e9po "quoted" 50% ünïcødé 世界';
      expect(decodeURIComponent(encodeHeaderValue(value))).to.equal(value);
    });
  });

  describe('binary content mode', () => {
    it('writes attributes as ce- headers and the data as a JSON body', () => {
      const message = encodeBinary(toCloudEvent(acrPush));
      expect(message.headers).to.deep.equal({
        'Content-Type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': acrPush.id,
        'ce-source': 'brigade.sh/acr',
        'ce-type': 'sh.brigade.acr.push',
        'ce-subject': 'hello-world:v1',
        'ce-time': acrPush.time,
        'ce-registry': 'myregistry.azurecr.io',
        'ce-repo': 'hello-world',
        'ce-tag': 'v1',
        'ce-digest': acrPush.digest,
      });
      expect(JSON.parse(message.body)).to.deep.equal(JSON.parse(JSON.stringify(acrPush)));
    });

    it('carries the trace the event was accepted in as the distributed-tracing extension', () => {
      const trace = {
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
      };
      const { headers } = encodeBinary(toCloudEvent(acrPush, { trace }));
      expect(headers['ce-traceparent']).to.equal(trace.traceparent);
      expect(headers['ce-tracestate']).to.equal(trace.tracestate);
      expect(JSON.parse(encodeStructured(toCloudEvent(acrPush, { trace })).body)).to.include(trace);
      expect(encodeBinary(toCloudEvent(acrPush)).headers).to.not.have.any.keys('ce-traceparent', 'ce-tracestate');
    });

    it('omits the headers of absent attributes', () => {
      const { headers } = encodeBinary(toCloudEvent(harborQuota));
      expect(headers).to.not.have.any.keys('ce-subject', 'ce-repo', 'ce-tag', 'ce-digest', 'ce-datacontenttype');
    });

    it('percent-encodes every header value', () => {
      const { headers } = encodeBinary(toCloudEvent({ ...acrPush, repo: 'my repo', tag: 'ü"1"' }));
      expect(headers['ce-repo']).to.equal('my%20repo');
      expect(headers['ce-tag']).to.equal('%C3%BC%221%22');
      expect(headers['ce-subject']).to.equal('my%20repo:%C3%BC%221%22');
    });
  });

  describe('artifact facts', () => {
    it('travel as extension attributes a Trigger can filter on, and in data', () => {
      const moved: RegistryEvent = {
        ...acrPush,
        kind: 'index',
        platforms: ['linux/amd64', 'linux/arm64'],
        tagChange: 'moved',
        previousDigest: `sha256:${'cd'.repeat(32)}`,
      };
      const cloudEvent = toCloudEvent(moved);
      expect(cloudEvent.extensions).to.include({
        kind: 'index',
        change: 'moved',
        previousdigest: `sha256:${'cd'.repeat(32)}`,
        platforms: 'linux/amd64,linux/arm64',
      });
      for (const name of Object.keys(cloudEvent.extensions)) expect(isValidExtensionName(name), name).to.equal(true);
      expect(cloudEvent.data).to.include({ kind: 'index', tagChange: 'moved' });
      const signed = toCloudEvent({
        ...acrPush,
        type: 'signed',
        kind: 'signature',
        subject: { digest: `sha256:${'ab'.repeat(32)}`, repo: 'hello-world' },
      });
      expect(signed.type).to.equal('sh.brigade.acr.signed');
      expect(signed.extensions).to.include({ kind: 'signature', subjectdigest: `sha256:${'ab'.repeat(32)}` });
    });
  });

  describe('extension names', () => {
    it('accepts lower-case letters and digits only, and no core attribute name', () => {
      expect(isValidExtensionName('registry')).to.equal(true);
      expect(isValidExtensionName('ext2')).to.equal(true);
      for (const bad of ['Repo', 'my-ext', 'my_ext', '', 'ünï', 'id', 'subject']) {
        expect(isValidExtensionName(bad), bad).to.equal(false);
      }
    });

    it('refuses to encode an event carrying an invalid extension name', () => {
      const cloudEvent: CloudEvent = { ...toCloudEvent(acrPush), extensions: { 'image-tag': 'v1' } };
      expect(() => encodeBinary(cloudEvent)).to.throw(/image-tag/);
      expect(() => encodeStructured(cloudEvent)).to.throw(/image-tag/);
    });
  });

  describe('structured content mode', () => {
    it('writes the whole event as one JSON object that passes the CloudEvents schema', function () {
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      const validate = ajv.compile(readSchema('cloudevents', 'cloudevents.json'));

      for (const event of [acrPush, eventGridChartDelete, harborUntagged, harborQuota, distributionPushByDigest]) {
        const message = encodeStructured(toCloudEvent(event));
        expect(message.headers['Content-Type']).to.match(/^application\/cloudevents\+json/);
        const json = JSON.parse(message.body);
        expect(validate(json), JSON.stringify(validate.errors)).to.equal(true);
        expect(json).to.include({ specversion: '1.0', id: event.id, source: event.source, registry: event.registry });
        expect(json.data).to.deep.equal(JSON.parse(JSON.stringify(event)));
      }
    });
  });
});
