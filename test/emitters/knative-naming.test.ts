/**
 * What the Knative emitter calls the CloudEvents it sends: the `veba` type preset and type
 * templates, `source`, and the extension attributes a SinkBinding asks for in K_CE_OVERRIDES.
 */
import { expect } from 'chai';
import pino from 'pino';
import { ConfigError } from '../../src/config/load';
import { KnativeEmitter } from '../../src/emitters/knative';
import { cloudEventFor, type CloudEventNaming } from '../../src/emitters/knative-naming';
import { createEmitters, parseConfig } from '../../src/gateway';
import { PayloadError } from '../../src/model/errors';
import type { RegistryEvent } from '../../src/model/event';
import { HarborParser } from '../../src/providers/harbor';
import { makeEvent } from '../delivery/support';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { inbound, parseContext } from '../helpers/context';
import { memoryLogger } from '../helpers/logger';
import { fixtureFiles, readFixture } from '../helpers/corpus';

const TOKEN = 'tok-0123456789abcdef';
const NAMING: CloudEventNaming = { typePrefix: '', typeTemplate: '', source: '', ceOverrides: { extensions: {} } };

/**
 * The type VEBA's webhook function gave each Harbor type, written out here: its own type name
 * lower-cased; for the CloudEvents format, the name of the Default-format twin.
 */
const VEBA_TYPE_OF_CLOUDEVENTS_FORMAT: Record<string, string> = {
  'harbor.artifact.pushed': 'com.vmware.harbor.push_artifact.v0',
  'harbor.artifact.pulled': 'com.vmware.harbor.pull_artifact.v0',
  'harbor.artifact.deleted': 'com.vmware.harbor.delete_artifact.v0',
  'harbor.scan.completed': 'com.vmware.harbor.scanning_completed.v0',
  'harbor.scan.failed': 'com.vmware.harbor.scanning_failed.v0',
  'harbor.scan.stopped': 'com.vmware.harbor.scanning_stopped.v0',
  'harbor.quota.exceeded': 'com.vmware.harbor.quota_exceed.v0',
  'harbor.quota.warned': 'com.vmware.harbor.quota_warning.v0',
  'harbor.replication.status.changed': 'com.vmware.harbor.replication.v0',
  'harbor.tag_retention.finished': 'com.vmware.harbor.tag_retention.v0',
};

/** The events the gateway makes of a sample; none for a sample it refuses (masked values), which never reaches a target. */
function harborEvents(folder: string, file: string): RegistryEvent[] {
  try {
    const outcome = new HarborParser().parse(
      inbound(readFixture(folder, file).body),
      parseContext('harbor', { fallback: 'harbor.example.com' }),
    );
    if (outcome.kind !== 'events') throw new Error(`${file}: ${outcome.kind}`);
    return outcome.events;
  } catch (err) {
    if (err instanceof PayloadError) return [];
    throw err;
  }
}

describe('Knative CloudEvent naming', () => {
  describe('the veba type preset on every Harbor sample of the shared corpus', () => {
    let broker: FakeKnativeBroker;
    let emitter: KnativeEmitter;

    before(async () => {
      broker = await FakeKnativeBroker.start();
      emitter = new KnativeEmitter({
        brokerURL: broker.url,
        typeTemplate: 'veba',
        source: '/kn-go-harbor-webhook',
      });
    });

    after(async () => {
      await emitter.close();
      await broker.close();
    });

    const cases = [
      ...fixtureFiles('harbor').map((file) => ({ folder: 'harbor', file })),
      ...fixtureFiles('harbor-cloudevents').map((file) => ({ folder: 'harbor-cloudevents', file })),
    ];

    // The samples the gateway refuses (masked values) have their 400s in the corpus test.
    const accepted = cases.filter(({ folder, file }) => harborEvents(folder, file).length > 0);

    it('covers both payload formats, nearly every sample accepted (the corpus is there)', function () {
      expect(cases.length - accepted.length).to.be.at.most(2);
      expect(cases.filter((c) => c.folder === 'harbor').length).to.be.greaterThan(10);
      expect(cases.filter((c) => c.folder === 'harbor-cloudevents').length).to.be.greaterThan(5);
    });

    for (const { folder, file } of accepted) {
      it(`${folder}/${file}: the type a VEBA Trigger filters on reaches the broker`, async function () {
        const body = readFixture(folder, file).body as { type: string };
        const expected =
          folder === 'harbor'
            ? `com.vmware.harbor.${body.type.toLowerCase()}.v0`
            : VEBA_TYPE_OF_CLOUDEVENTS_FORMAT[body.type];
        expect(expected, body.type).to.be.a('string');
        const events = harborEvents(folder, file);
        const before = broker.received.length;
        for (const event of events) await emitter.deliver(event);
        const received = broker.received.slice(before);
        expect(received).to.not.be.empty;
        for (const cloudEvent of received) {
          expect(cloudEvent.attributes).to.include({ type: expected, source: '/kn-go-harbor-webhook' });
          // What VEBA never had: the repository as an attribute, and a stable id.
          expect(cloudEvent.attributes.registry).to.be.a('string');
        }
      });
    }

    it('spells a 1.x Harbor type as VEBA would have: lower-cased as sent', () => {
      const event = makeEvent('old', {
        provider: 'harbor',
        source: 'brigade.sh/harbor',
        payload: { type: 'pushImage' },
      });
      expect(cloudEventFor(event, { ...NAMING, typeTemplate: 'veba' }).type).to.equal('com.vmware.harbor.pushimage.v0');
    });

    it('leaves other providers with the default naming', () => {
      const acr = makeEvent('acr-1');
      expect(cloudEventFor(acr, { ...NAMING, typeTemplate: 'veba' }).type).to.equal('sh.brigade.acr.push');
      expect(cloudEventFor(acr, { ...NAMING, typeTemplate: 'veba', typePrefix: 'com.example' }).type).to.equal(
        'com.example.push',
      );
    });
  });

  describe('type templates and source', () => {
    it('fills in prefix, type and provider', () => {
      const event = makeEvent('t1', { type: 'chart_push' });
      const naming = { ...NAMING, typeTemplate: 'io.registry.{provider}.{type}.v1' };
      expect(cloudEventFor(event, naming).type).to.equal('io.registry.acr.chart_push.v1');
      expect(cloudEventFor(event, { ...naming, typeTemplate: '{prefix}.{type}' }).type).to.equal(
        'sh.brigade.acr.chart_push',
      );
      expect(cloudEventFor(event, { ...naming, typeTemplate: '{prefix}.{type}', typePrefix: 'x.y' }).type).to.equal(
        'x.y.chart_push',
      );
    });

    it('keeps the default type and the event source when neither is set', () => {
      expect(cloudEventFor(makeEvent('t2'), NAMING)).to.include({
        type: 'sh.brigade.acr.push',
        source: 'brigade.sh/acr',
      });
    });

    it('refuses unknown placeholders and whitespace at validation, naming the key', () => {
      const config = (knative: string) => () =>
        parseConfig(
          `tokens: {a: ${TOKEN}}\nemitters: {knative: {enabled: true, brokerURL: "http://b/ns/x", ${knative}}}`,
        );
      expect(config('typeTemplate: "x.{repo}.{type}"')).to.throw(
        ConfigError,
        /emitters\.knative\.typeTemplate may use the placeholders prefix, type and provider .*not \[repo\]/,
      );
      expect(config('typeTemplate: "a b"')).to.throw(ConfigError, /typeTemplate must not contain whitespace/);
      expect(config('source: "a b"')).to.throw(ConfigError, /source must not contain whitespace/);
      expect(config('typeTemplate: veba, source: /kn-go-harbor-webhook').call(null).emitters.knative).to.include({
        typeTemplate: 'veba',
        source: '/kn-go-harbor-webhook',
      });
    });
  });

  describe('K_SINK and K_CE_OVERRIDES, as a SinkBinding sets them', () => {
    let broker: FakeKnativeBroker;
    let other: FakeKnativeBroker;

    beforeEach(async () => {
      broker = await FakeKnativeBroker.start({ namespace: 'registry-events' });
      other = await FakeKnativeBroker.start({ namespace: 'elsewhere' });
    });

    afterEach(async () => {
      await broker.close();
      await other.close();
    });

    const values = (knative = '') =>
      `tokens: {a: ${TOKEN}}\nemitters: {log: {enabled: false}, knative: {enabled: true${knative}}}`;

    async function deliverThrough(text: string, env: NodeJS.ProcessEnv): Promise<void> {
      const [knative] = createEmitters(parseConfig(text, 'values.yaml', env), pino({ level: 'silent' }));
      try {
        await knative.deliver(makeEvent('bound', { repo: 'team/web' }));
      } finally {
        await knative.close?.();
      }
    }

    it('sends to K_SINK when the values name no sink, with the overrides on every CloudEvent', async () => {
      const env = {
        K_SINK: broker.url,
        K_CE_OVERRIDES: JSON.stringify({ extensions: { cluster: 'prod-eu1', repo: 'overridden' } }),
      };
      await deliverThrough(values(), env);
      const [event] = broker.received;
      expect(event.attributes).to.include({ cluster: 'prod-eu1', repo: 'overridden', id: 'bound' });
      expect(event.headers['ce-cluster']).to.equal('prod-eu1');
    });

    it('carries the overrides in structured mode too', async () => {
      await deliverThrough(values(', mode: structured'), {
        K_SINK: broker.url,
        K_CE_OVERRIDES: '{"extensions":{"cluster":"prod-eu1"}}',
      });
      expect(broker.received[0]).to.deep.include({ mode: 'structured' });
      expect(broker.received[0].attributes.cluster).to.equal('prod-eu1');
    });

    it('lets a sink named in the values win over K_SINK: brokerURL, sink.uri, or a ref', async () => {
      await deliverThrough(values(`, brokerURL: "${broker.url}"`), { K_SINK: other.url });
      await deliverThrough(values(`, sink: {uri: "${broker.url}"}`), { K_SINK: other.url });
      expect(broker.received).to.have.length(2);
      expect(other.received).to.have.length(0);
      const withRef = parseConfig(
        values(', sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default, namespace: ns}}'),
        'values.yaml',
        { K_SINK: other.url },
      );
      expect(withRef.emitters.knative.sink.uri).to.equal('');
    });

    it('refuses at start an override that is not a CloudEvents attribute name, or not JSON', () => {
      const start = (overrides: string) => () =>
        parseConfig(values(), 'values.yaml', { K_SINK: broker.url, K_CE_OVERRIDES: overrides });
      expect(start('{"extensions":{"Cluster":"a","x-y":"b","id":"c"}}')).to.throw(
        ConfigError,
        /emitters\.knative\.ceOverrides\.extensions: \["Cluster","x-y","id"\] are not CloudEvents attribute names/,
      );
      expect(start('{extensions: nope')).to.throw(ConfigError, /ceOverrides must be an object .*K_CE_OVERRIDES/);
      expect(start('{"extensions":{"a":1}}')).to.throw(ConfigError, /ceOverrides\.extensions\.a must be a string/);
      expect(start('{"extensions":{"a":"1"},"other":{}}')).to.throw(
        ConfigError,
        /ceOverrides\.other is not allowed: ceOverrides takes only extensions/,
      );
    });

    it('warns about a name past the 20 characters CloudEvents recommends, and uses it', async () => {
      const log = memoryLogger();
      const emitter = new KnativeEmitter(
        { brokerURL: broker.url, ceOverrides: { extensions: { averyveryverylongname1: 'x' } } },
        { logger: log.logger },
      );
      await emitter.deliver(makeEvent('long'));
      await emitter.close();
      expect(log.text()).to.match(/at most 20 characters/);
      expect(broker.received[0].attributes.averyveryverylongname1).to.equal('x');
    });

    it('without K_SINK and without a sink, names every way to give one', () => {
      expect(() => parseConfig(values(), 'values.yaml', {})).to.throw(
        ConfigError,
        /emitters\.knative\.sink: the knative emitter is enabled but has no sink: set sink\.ref, sink\.uri or brokerURL, or .*SinkBinding \(which sets K_SINK\)/,
      );
    });
  });
});
