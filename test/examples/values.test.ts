/**
 * The example values files: each must be a config the gateway accepts, both as a file of its own
 * (`registry-gateway validate --config examples/values-x.yaml`) and over the chart's defaults
 * (`helm install -f examples/values-x.yaml`), and route the sample events where its comments say.
 */
import { expect } from 'chai';
import path from 'node:path';
import { ConfigError } from '../../src/config/load';
import { route, type RouteTarget } from '../../src/delivery/routing';
import type { Config } from '../../src/gateway';
import { appRepositoriesFor } from '../../src/emitters/kubeapps-rules';
import {
  chartValues,
  EXAMPLES_DIR,
  eventsFor,
  exampleConfig,
  gatewayConfig,
  mergeValues,
  readText,
  readYaml,
} from './support';

const VALUES_FILES = [
  'values-brigade-acr.yaml',
  'values-harbor-knative.yaml',
  'values-kubeapps.yaml',
  'values-multi.yaml',
];

/** What the dispatcher would deliver an event to: enabled emitters, their filters, Kubeapps' rules. */
function targetsOf(config: Config): RouteTarget[] {
  return Object.entries(config.emitters)
    .filter(([, section]) => section.enabled)
    .map(([name, section]) => ({
      name,
      filter: section.filter,
      accepts:
        name === 'kubeapps'
          ? (event) => appRepositoriesFor(config.emitters.kubeapps.repositories, event).length > 0
          : undefined,
    }));
}

function enabledEmitters(config: Config): string[] {
  return Object.entries(config.emitters)
    .filter(([, section]) => section.enabled)
    .map(([name]) => name);
}

describe('examples/values-*.yaml', () => {
  for (const file of VALUES_FILES) {
    describe(file, () => {
      it('validates as a file of its own', () => {
        gatewayConfig(readYaml(path.join(EXAMPLES_DIR, file)), file);
      });

      it("validates over the chart's values.yaml", () => {
        exampleConfig(file);
      });

      it('uses a placeholder for every token value, never something that works as a Bearer token', () => {
        const config = exampleConfig(file);
        for (const [name, token] of Object.entries(config.tokens)) {
          const value = typeof token === 'string' ? token : token.value;
          // A space cannot appear in a Bearer token (RFC 6750 b64token): the placeholder is unusable.
          expect(value, `tokens.${name}`).to.match(/^<.* .*>$/);
        }
      });
    });
  }

  it('the validation really refuses a broken example (the check itself)', () => {
    const broken = mergeValues(readYaml(path.join(EXAMPLES_DIR, 'values-multi.yaml')), {
      emitters: { knative: { brokerURL: '' } },
    });
    expect(() => gatewayConfig(broken)).to.throw(ConfigError, /brokerURL/);
  });

  describe('values-brigade-acr.yaml', () => {
    const config = exampleConfig('values-brigade-acr.yaml');

    it('sends ACR events to Brigade with a token scoped to one ACR registry', () => {
      expect(enabledEmitters(config)).to.include('brigade');
      expect(config.tokens['acr-myregistry']).to.deep.include({
        providers: ['acr', 'eventgrid'],
        registries: ['myregistry.azurecr.io'],
      });
    });

    it('takes the Brigade token from a Secret through an environment override the gateway knows', () => {
      const values = readYaml(path.join(EXAMPLES_DIR, 'values-brigade-acr.yaml'));
      const env = values.extraEnv as { name: string; valueFrom?: { secretKeyRef?: unknown } }[];
      const tokenEnv = env.find((e) => e.name === 'BRIGADE_API_TOKEN');
      expect(tokenEnv?.valueFrom?.secretKeyRef).to.be.an('object');
      const inPod = gatewayConfig(mergeValues(chartValues(), values), 'x', { BRIGADE_API_TOKEN: 'from-the-secret' });
      expect(inPod.emitters.brigade.apiToken).to.equal('from-the-secret');
    });

    it('names the registry of ACR chart events, which carry none, through the token scope', () => {
      const [event] = eventsFor('acr-chart-push.json', config, 'acr-myregistry');
      expect(event).to.include({ type: 'chart_push', registry: 'myregistry.azurecr.io' });
    });
  });

  describe('values-harbor-knative.yaml', () => {
    const config = exampleConfig('values-harbor-knative.yaml');

    it('sends Harbor pushes to the Knative broker, and keeps pulls out', () => {
      expect(enabledEmitters(config)).to.deep.equal(['knative']);
      const [push] = eventsFor('harbor-push.json', config, 'harbor-prod');
      expect(route(push, targetsOf(config))).to.deep.equal(['knative']);
      expect(config.emitters.knative.filter.types).to.not.include('pull');
    });
  });

  describe('values-kubeapps.yaml', () => {
    const config = exampleConfig('values-kubeapps.yaml');
    const text = readText(path.join(EXAMPLES_DIR, 'values-kubeapps.yaml'));

    it('shows endpoint mode in use and kubernetes mode commented out', () => {
      expect(config.emitters.kubeapps).to.include({ enabled: true, mode: 'endpoint' });
      expect(text).to.match(/^\s*# mode: kubernetes$/m);
    });

    it('also validates in kubernetes mode, as the comment says to switch', () => {
      const values = mergeValues(readYaml(path.join(EXAMPLES_DIR, 'values-kubeapps.yaml')), {
        emitters: { kubeapps: { mode: 'kubernetes', address: null, token: null, apiServer: '' } },
      });
      expect(gatewayConfig(mergeValues(chartValues(), values)).emitters.kubeapps.mode).to.equal('kubernetes');
    });

    it('refreshes the AppRepository listing an OCI chart pushed below its prefix', () => {
      const [push] = eventsFor('acr-oci-chart-push.json', config, 'acr-myregistry');
      const rules = config.emitters.kubeapps.repositories;
      expect(appRepositoriesFor(rules, push)).to.deep.equal([
        { cluster: 'default', namespace: 'kubeapps', name: 'myregistry-charts' },
      ]);
    });
  });

  describe('values-multi.yaml', () => {
    const config = exampleConfig('values-multi.yaml');
    const cases: [payload: string, token: string, emitters: string[]][] = [
      ['acr-push.json', 'acr-myregistry', ['log', 'brigade']],
      ['eventgrid-push.json', 'acr-myregistry', ['log', 'brigade']],
      ['distribution-push.json', 'internal-registry', ['log', 'brigade']],
      ['harbor-push.json', 'harbor-prod', ['log']],
      ['harbor-scan-completed.json', 'harbor-prod', ['log', 'knative']],
      ['acr-oci-chart-push.json', 'acr-myregistry', ['log', 'kubeapps']],
    ];

    it('enables every emitter', () => {
      expect(enabledEmitters(config).sort()).to.deep.equal(['brigade', 'knative', 'kubeapps', 'log']);
    });

    for (const [payload, token, emitters] of cases) {
      it(`routes ${payload} to ${emitters.join(' and ')}`, () => {
        const events = eventsFor(payload, config, token);
        expect(events).to.have.length(1);
        expect(route(events[0], targetsOf(config))).to.deep.equal(emitters);
      });
    }
  });
});
