/**
 * The example Brigade projects: each must be a project Brigade accepts (its own project.json
 * schema, read in place from the shared corpus) and must subscribe to what the gateway actually
 * sends for the matching sample payloads, by Brigade's matching rules.
 */
import { expect } from 'chai';
import Ajv, { type ValidateFunction } from 'ajv';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { core } from '@brigadecore/brigade-sdk';
import { toBrigadeEvent } from '../../src/emitters/brigade-event';
import { readSchema } from '../helpers/corpus';
import { EXAMPLES_DIR, eventsFor, exampleConfig, readText, readYaml, type Tree } from './support';

const BRIGADE_DIR = path.join(EXAMPLES_DIR, 'brigade');

interface Subscription {
  source: string;
  types: string[];
  qualifiers?: Record<string, string> | null;
  labels?: Record<string, string> | null;
}

const projectFiles = readdirSync(BRIGADE_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function subscriptionsOf(file: string): Subscription[] {
  const spec = readYaml(path.join(BRIGADE_DIR, file)).spec as { eventSubscriptions?: Subscription[] };
  return spec.eventSubscriptions ?? [];
}

/**
 * Brigade's rule for handing an event to a project: same source, a listed type (or `*`),
 * qualifiers equal as a whole (none on one side means none on the other), and every label of
 * the subscription present on the event with the same value.
 */
function subscriptionMatches(sub: Subscription, event: core.Event): boolean {
  if (sub.source !== event.source) return false;
  if (!sub.types.includes(event.type) && !sub.types.includes('*')) return false;
  const wanted = sub.qualifiers ?? {};
  const given = event.qualifiers ?? {};
  if (Object.keys(wanted).length !== Object.keys(given).length) return false;
  if (!Object.entries(wanted).every(([k, v]) => given[k] === v)) return false;
  const labels = event.labels ?? {};
  return Object.entries(sub.labels ?? {}).every(([k, v]) => labels[k] === v);
}

/** A sample payload through the gateway (under an example config and token) to a Brigade event. */
function brigadeEventFor(payload: string, valuesFile: string, token: string): core.Event {
  const events = eventsFor(payload, exampleConfig(valuesFile), token);
  expect(events, payload).to.have.length(1);
  return toBrigadeEvent(events[0]).event;
}

/** [project, sample payload, values file, token] the project is meant for. */
const DELIVERED: [string, string, string, string][] = [
  ['acr-web-deploy.yaml', 'acr-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['acr-web-deploy.yaml', 'eventgrid-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['harbor-library-web.yaml', 'harbor-push.json', 'values-harbor-knative.yaml', 'harbor-prod'],
  ['harbor-library-web.yaml', 'harbor-cloudevents-push.json', 'values-harbor-knative.yaml', 'harbor-prod'],
  ['acr-chart-publish.yaml', 'acr-chart-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['acr-chart-publish.yaml', 'eventgrid-cloudevents-chart-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
];

/** Events the project must not receive. */
const NOT_DELIVERED: [string, string, string, string][] = [
  ['acr-web-deploy.yaml', 'acr-chart-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['acr-web-deploy.yaml', 'acr-oci-chart-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['acr-web-deploy.yaml', 'harbor-push.json', 'values-harbor-knative.yaml', 'harbor-prod'],
  ['harbor-library-web.yaml', 'acr-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
  ['harbor-library-web.yaml', 'harbor-scan-completed.json', 'values-harbor-knative.yaml', 'harbor-prod'],
  ['acr-chart-publish.yaml', 'acr-push.json', 'values-brigade-acr.yaml', 'acr-myregistry'],
];

describe('examples/brigade', () => {
  it('has the projects this test knows about', () => {
    expect(projectFiles).to.deep.equal(['acr-chart-publish.yaml', 'acr-web-deploy.yaml', 'harbor-library-web.yaml']);
  });

  describe("Brigade's project schema", () => {
    let validate: ValidateFunction;

    before(function () {
      // Brigade's schemas use union types and patternProperties that ajv's strict mode flags.
      const ajv = new Ajv({ allErrors: true, strict: false });
      ajv.addSchema(readSchema('brigade', 'common.json'));
      validate = ajv.compile(readSchema('brigade', 'project.json'));
    });

    for (const file of projectFiles) {
      it(`accepts ${file}`, () => {
        const valid = validate(readYaml(path.join(BRIGADE_DIR, file)));
        expect(validate.errors ?? [], file).to.deep.equal([]);
        expect(valid).to.equal(true);
      });
    }

    it('refuses a project with a qualifier key Brigade does not allow (the check itself)', () => {
      const project = readYaml(path.join(BRIGADE_DIR, 'acr-web-deploy.yaml'));
      const spec = project.spec as { eventSubscriptions: Tree[] };
      spec.eventSubscriptions[0].qualifiers = { 'registry-': 'x' };
      expect(validate(project)).to.equal(false);
    });
  });

  describe('subscriptions against what the gateway sends', () => {
    for (const [project, payload, values, token] of DELIVERED) {
      it(`${project} receives ${payload}`, () => {
        const event = brigadeEventFor(payload, values, token);
        const matching = subscriptionsOf(project).filter((sub) => subscriptionMatches(sub, event));
        expect(matching, JSON.stringify(event, ['source', 'type', 'qualifiers', 'labels', 'registry', 'repo'])).to.not
          .be.empty;
      });
    }

    for (const [project, payload, values, token] of NOT_DELIVERED) {
      it(`${project} does not receive ${payload}`, () => {
        const event = brigadeEventFor(payload, values, token);
        expect(subscriptionsOf(project).filter((sub) => subscriptionMatches(sub, event))).to.be.empty;
      });
    }

    it('has no subscription that no sample reaches', () => {
      for (const file of projectFiles) {
        const events = DELIVERED.filter(([project]) => project === file).map(([, p, v, t]) => brigadeEventFor(p, v, t));
        for (const sub of subscriptionsOf(file)) {
          expect(
            events.some((e) => subscriptionMatches(sub, e)),
            `${file}: ${JSON.stringify(sub)}`,
          ).to.equal(true);
        }
      }
    });

    it('qualify by registry alone and label only with keys the gateway sets', () => {
      for (const file of projectFiles) {
        for (const sub of subscriptionsOf(file)) {
          expect(Object.keys(sub.qualifiers ?? {}), file).to.deep.equal(['registry']);
          expect(['repo', 'tag', 'digest'], file).to.include.members(Object.keys(sub.labels ?? {}));
        }
      }
    });

    it('tell a qualifier mismatch apart (the matcher itself)', () => {
      const event = brigadeEventFor('acr-push.json', 'values-brigade-acr.yaml', 'acr-myregistry');
      const sub = subscriptionsOf('acr-web-deploy.yaml')[0];
      expect(subscriptionMatches({ ...sub, qualifiers: { registry: 'other.azurecr.io' } }, event)).to.equal(false);
      expect(subscriptionMatches({ ...sub, qualifiers: { ...sub.qualifiers, region: 'x' } }, event)).to.equal(false);
      expect(subscriptionMatches({ ...sub, qualifiers: null }, event)).to.equal(false);
      expect(subscriptionMatches({ ...sub, labels: { repo: 'team/api' } }, event)).to.equal(false);
    });
  });

  describe('README.md', () => {
    const readme = readText(path.join(BRIGADE_DIR, 'README.md'));

    it('grants EVENT_CREATOR for every source the projects subscribe to', () => {
      const granted = [...readme.matchAll(/^brig role grant EVENT_CREATOR --service-account (\S+) --source (\S+)$/gm)];
      const accounts = new Set(granted.map((m) => m[1]));
      expect([...accounts]).to.have.length(1);
      expect(readme).to.match(new RegExp(`^brig service-account create --id ${[...accounts][0]}\\b`, 'm'));
      const sources = new Set(granted.map((m) => m[2]));
      for (const file of projectFiles) {
        for (const sub of subscriptionsOf(file)) expect([...sources], file).to.include(sub.source);
      }
    });

    it('creates each example project', () => {
      for (const file of projectFiles) expect(readme).to.include(`brig project create --file examples/brigade/${file}`);
    });
  });
});
