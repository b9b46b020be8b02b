/**
 * The example Knative Broker and Triggers: filters may only name attributes the gateway's
 * CloudEvents carry, types must be the prefixed form it sends, and each Trigger must let
 * through (and keep out) the CloudEvents the gateway makes of the sample payloads.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { defaultTypePrefix, toCloudEvent, type CloudEvent } from '../../src/emitters/cloudevent';
import { EVENT_TYPES } from '../../src/model/event';
import { PROVIDERS } from '../../src/providers';
import { validateObject } from '../charts/helm';
import { EXAMPLES_DIR, eventsFor, exampleConfig, isMap, readText, readYamlDocuments, type Tree } from './support';

const KNATIVE_DIR = path.join(EXAMPLES_DIR, 'knative');

/** Attributes on every CloudEvent the gateway sends (docs/targets.md, Knative broker) that a Trigger may test. */
const GATEWAY_ATTRIBUTES = ['type', 'source', 'subject', 'registry', 'repo', 'tag', 'digest'];

const manifests = readdirSync(KNATIVE_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((file) => readYamlDocuments(path.join(KNATIVE_DIR, file)).map((doc) => ({ file, doc })));

const triggers = manifests.filter(({ doc }) => doc.kind === 'Trigger');

function trigger(name: string): Tree {
  const found = triggers.find(({ doc }) => (doc.metadata as Tree).name === name);
  if (!found) throw new Error(`no Trigger ${name}`);
  return found.doc;
}

/** Every type the gateway can send with the default sources and no typePrefix. */
const GATEWAY_TYPES = [...new Set(PROVIDERS.map((p) => defaultTypePrefix(p.defaultSource)))].flatMap((prefix) =>
  EVENT_TYPES.map((type) => `${prefix}.${type}`),
);

function attribute(event: CloudEvent, name: string): string | undefined {
  const core: Record<string, string | undefined> = {
    type: event.type,
    source: event.source,
    subject: event.subject,
    id: event.id,
    time: event.time,
  };
  return Object.hasOwn(core, name) ? core[name] : event.extensions[name];
}

/** One entry of a Trigger's `spec.filters` (the Subscriptions API dialects Knative supports). */
function filterHolds(filter: Tree, event: CloudEvent): boolean {
  const [[dialect, body]] = Object.entries(filter);
  const pairs = () => Object.entries(body as Record<string, string>);
  switch (dialect) {
    case 'exact':
      return pairs().every(([name, value]) => attribute(event, name) === value);
    case 'prefix':
      return pairs().every(([name, value]) => attribute(event, name)?.startsWith(value) ?? false);
    case 'suffix':
      return pairs().every(([name, value]) => attribute(event, name)?.endsWith(value) ?? false);
    case 'all':
      return (body as Tree[]).every((f) => filterHolds(f, event));
    case 'any':
      return (body as Tree[]).some((f) => filterHolds(f, event));
    case 'not':
      return !filterHolds(body as Tree, event);
    default:
      throw new Error(`filter dialect ${dialect} is not one this test evaluates`);
  }
}

/** Knative's rule: `filters` when present, else every `filter.attributes` entry must be equal. */
function triggerPasses(spec: Tree, event: CloudEvent): boolean {
  if (Array.isArray(spec.filters)) return (spec.filters as Tree[]).every((f) => filterHolds(f, event));
  const attributes = ((spec.filter as Tree | undefined)?.attributes ?? {}) as Record<string, string>;
  return Object.entries(attributes).every(([name, value]) => attribute(event, name) === value);
}

/** Attribute name/value pairs a Trigger tests, by dialect (legacy attributes count as exact). */
function testedAttributes(spec: Tree): { dialect: string; name: string; value: string }[] {
  const out: { dialect: string; name: string; value: string }[] = [];
  const walk = (filter: Tree) => {
    for (const [dialect, body] of Object.entries(filter)) {
      if (Array.isArray(body)) body.forEach((f) => walk(f as Tree));
      else if (dialect === 'not') walk(body as Tree);
      else for (const [name, value] of Object.entries(body as Tree)) out.push({ dialect, name, value: String(value) });
    }
  };
  if (Array.isArray(spec.filters)) (spec.filters as Tree[]).forEach(walk);
  const attributes = ((spec.filter as Tree | undefined)?.attributes ?? {}) as Tree;
  for (const [name, value] of Object.entries(attributes)) out.push({ dialect: 'exact', name, value: String(value) });
  return out;
}

/** The CloudEvent the gateway posts for a sample payload under an example config. */
function cloudEventFor(payload: string, valuesFile: string, token: string): CloudEvent {
  const config = exampleConfig(valuesFile);
  const [event] = eventsFor(payload, config, token);
  return toCloudEvent(event, { typePrefix: config.emitters.knative.typePrefix });
}

/** Made when a test runs, so a sample the gateway refuses fails that test, not the file. */
type Sample = () => CloudEvent;
const ACR =
  (payload: string): Sample =>
  () =>
    cloudEventFor(payload, 'values-brigade-acr.yaml', 'acr-myregistry');
const HARBOR =
  (payload: string): Sample =>
  () =>
    cloudEventFor(payload, 'values-harbor-knative.yaml', 'harbor-prod');

/** [trigger, samples it must pass, samples it must stop]. */
const EXPECTATIONS: [string, Sample[], Sample[]][] = [
  [
    'acr-web-push',
    [ACR('acr-push.json'), ACR('eventgrid-push.json')],
    [ACR('acr-chart-push.json'), ACR('acr-oci-chart-push.json'), HARBOR('harbor-push.json')],
  ],
  [
    'harbor-library',
    [HARBOR('harbor-push.json'), HARBOR('harbor-cloudevents-push.json'), HARBOR('harbor-scan-completed.json')],
    [ACR('acr-push.json')],
  ],
  ['scan-results', [HARBOR('harbor-scan-completed.json')], [HARBOR('harbor-push.json'), ACR('acr-push.json')]],
];

describe('examples/knative', () => {
  it("are Knative objects that pass Knative's own schemas (@kubernetes-models/knative)", async () => {
    expect(manifests.map(({ doc }) => doc.kind)).to.include.members(['Broker', 'Trigger']);
    for (const { file, doc } of manifests) {
      await validateObject(doc).catch((err: Error) => {
        throw new Error(`${file}: ${err.message}`);
      });
    }
    // The check itself: a Trigger whose filter attributes are a list, not a map, is refused.
    const broken = JSON.parse(JSON.stringify(triggers[0].doc)) as Tree;
    (broken.spec as Tree).filter = { attributes: ['type'] };
    let refused = false;
    await validateObject(broken).catch(() => (refused = true));
    expect(refused).to.equal(true);
  });

  const broker = manifests.find(({ doc }) => doc.kind === 'Broker')!.doc;
  const brokerMeta = broker.metadata as Tree;

  it('has one Broker and the Triggers this test knows about', () => {
    expect(manifests.filter(({ doc }) => doc.kind === 'Broker')).to.have.length(1);
    expect(triggers.map(({ doc }) => (doc.metadata as Tree).name).sort()).to.deep.equal(
      EXPECTATIONS.map(([name]) => name).sort(),
    );
  });

  it("tells how to read the Broker's address, which the example values point at", () => {
    const text = readText(path.join(KNATIVE_DIR, 'broker.yaml'));
    expect(text).to.include(
      `kubectl get broker ${String(brokerMeta.name)} -n ${String(brokerMeta.namespace)} -o jsonpath='{.status.address.url}'`,
    );
    const brokerURL = new URL(exampleConfig('values-harbor-knative.yaml').emitters.knative.brokerURL);
    // The multi-tenant broker ingress serves each Broker at /<namespace>/<name>.
    expect(brokerURL.pathname).to.equal(`/${String(brokerMeta.namespace)}/${String(brokerMeta.name)}`);
  });

  for (const { file, doc } of triggers) {
    describe(file, () => {
      const spec = doc.spec as Tree;

      it('subscribes to the example Broker', () => {
        expect(doc.apiVersion).to.equal('eventing.knative.dev/v1');
        expect(spec.broker).to.equal(brokerMeta.name);
        expect((doc.metadata as Tree).namespace).to.equal(brokerMeta.namespace);
        expect(isMap(spec.subscriber)).to.equal(true);
      });

      it('filters only on attributes the gateway sets', () => {
        const tested = testedAttributes(spec);
        expect(tested).to.not.be.empty;
        for (const { name } of tested) expect(GATEWAY_ATTRIBUTES, file).to.include(name);
      });

      it('names types in the prefixed form the gateway sends', () => {
        for (const { dialect, name, value } of testedAttributes(spec)) {
          if (name !== 'type') continue;
          if (dialect === 'exact') expect(GATEWAY_TYPES, file).to.include(value);
          else if (dialect === 'prefix')
            expect(
              GATEWAY_TYPES.some((t) => t.startsWith(value)),
              `${file}: ${value}`,
            ).to.equal(true);
          else expect.fail(`${file}: type tested with ${dialect}`);
        }
      });
    });
  }

  it('shows both filter styles: legacy attributes and the newer filters with a prefix', () => {
    const specs = triggers.map(({ doc }) => doc.spec as Tree);
    expect(specs.some((s) => isMap(s.filter) && isMap(s.filter.attributes))).to.equal(true);
    expect(specs.some((s) => testedAttributes(s).some((a) => a.dialect === 'prefix'))).to.equal(true);
  });

  for (const [name, passes, stops] of EXPECTATIONS) {
    it(`${name} lets through the events it is for and no others`, () => {
      const spec = trigger(name).spec as Tree;
      for (const event of passes.map((sample) => sample())) {
        expect(triggerPasses(spec, event), `${event.type} ${event.subject}`).to.equal(true);
      }
      for (const event of stops.map((sample) => sample())) {
        expect(triggerPasses(spec, event), `${event.type} ${event.subject}`).to.equal(false);
      }
    });
  }
});
