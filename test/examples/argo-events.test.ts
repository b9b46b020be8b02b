/**
 * examples/webhook/argo-events.yaml: the Argo Events objects that receive the gateway's `argo`
 * webhook endpoint. Each must pass Argo Events' own JSON Schema (test/corpus/schemas), listen
 * where examples/values-webhook.yaml sends, and filter on fields the CloudEvent really carries.
 */
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { encodeStructured, toCloudEvent } from '../../src/emitters/cloudevent';
import type { RegistryEvent } from '../../src/model/event';
import { readSchema } from '../helpers/corpus';
import { EXAMPLES_DIR, exampleConfig, readYamlDocuments } from './support';

type Tree = Record<string, any>;

const PREFIX = 'io.argoproj.events.v1alpha1';
const objects = readYamlDocuments(path.join(EXAMPLES_DIR, 'webhook', 'argo-events.yaml')) as Tree[];
const byKind = (kind: string): Tree => objects.find((o) => o.kind === kind)!;

function validatorFor(kind: string) {
  // Generated from Go types: int-or-string unions and formats that ajv's strict mode flags.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // Kubernetes' own formats: the value's type union is written beside them, so any value passes here.
  for (const format of ['int-or-string', 'int64-or-string']) ajv.addFormat(format, true);
  ajv.addSchema(readSchema('argo-events', 'definitions.json'), 'argo');
  return ajv.getSchema(`argo#/definitions/${PREFIX}.${kind}`)!;
}

/** A gjson-style dotted path, as the Sensor's data filters read it, into the EventSource's event. */
function atPath(data: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (node as Tree | undefined)?.[key], data);
}

describe('examples/webhook/argo-events.yaml', () => {
  it('holds an EventSource and a Sensor', () => {
    expect(objects.map((o) => o.kind)).to.deep.equal(['EventSource', 'Sensor']);
  });

  for (const kind of ['EventSource', 'Sensor']) {
    it(`the ${kind} passes Argo Events' schema`, () => {
      const validate = validatorFor(kind);
      expect(validate(byKind(kind)), JSON.stringify(validate.errors)).to.equal(true);
    });
  }

  it('the schema check refuses a broken object (the check itself)', () => {
    const validate = validatorFor('EventSource');
    const broken = structuredClone(byKind('EventSource'));
    broken.spec.webhook.registry.port = 12000;
    expect(validate(broken)).to.equal(false);
    expect(validate({ ...byKind('EventSource'), kind: 'Sensor' })).to.equal(false);
  });

  it('listens where the gateway sends: port and path of the argo endpoint', () => {
    const config = exampleConfig('values-webhook.yaml');
    const endpoint = config.emitters.webhook.endpoints.find((e) => e.name === 'argo')!;
    const url = new URL(endpoint.url);
    const source = byKind('EventSource');
    const [name, context] = Object.entries(source.spec.webhook as Tree)[0];
    expect(url.port).to.equal(context.port);
    expect(url.pathname).to.equal(context.endpoint);
    expect(context.method).to.equal('POST');
    expect(url.hostname.startsWith(`${source.metadata.name}-eventsource-svc.${source.metadata.namespace}.`)).to.equal(
      true,
    );
    const dependency = byKind('Sensor').spec.dependencies[0];
    expect([dependency.eventSourceName, dependency.eventName]).to.deep.equal([source.metadata.name, name]);
    expect(endpoint).to.include({ format: 'cloudevent', mode: 'structured' });
  });

  it("filters on fields of the gateway's structured CloudEvent, and they match a team push", () => {
    const push: RegistryEvent = {
      id: 'e1',
      provider: 'harbor',
      source: 'brigade.sh/harbor',
      type: 'push',
      registry: 'harbor.example.com',
      repo: 'team/web',
      tag: 'v1',
      time: '2026-11-20T09:15:02Z',
      payload: {},
    };
    // The webhook EventSource hands the Sensor the request body (JSON-decoded) under `body`.
    const event = { body: JSON.parse(encodeStructured(toCloudEvent(push)).body) as unknown };
    for (const filter of byKind('Sensor').spec.dependencies[0].filters.data as Tree[]) {
      const value = atPath(event, filter.path as string);
      expect(value, filter.path).to.be.a('string');
      expect(
        (filter.value as string[]).some((pattern) => new RegExp(`^(?:${pattern})$`).test(value as string)),
      ).to.equal(true);
    }
  });
});
