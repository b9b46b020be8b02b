/**
 * The example values files: each must be a config the gateway accepts, both as a file of its own
 * (`registry-gateway validate --config examples/values-x.yaml`) and over the chart's defaults
 * (`helm install -f examples/values-x.yaml`), and route the sample events where its comments say.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
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
  readYamlDocuments,
  withExampleSecrets,
} from './support';

/** Every top-level example but the one `make run` serves: each is a complete chart values file. */
const VALUES_FILES = readdirSync(EXAMPLES_DIR)
  .filter((f) => /^values-.*\.yaml$/.test(f) && !f.includes('local'))
  .sort();

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

/** Top-level fields of CloudNativePG's Cluster spec (postgresql.cnpg.io/v1) the example may use. */
const CNPG_SPEC_KEYS = [
  'instances',
  'imageName',
  'minSyncReplicas',
  'maxSyncReplicas',
  'primaryUpdateStrategy',
  'primaryUpdateMethod',
  'storage',
  'walStorage',
  'bootstrap',
  'affinity',
  'resources',
  'postgresql',
  'backup',
  'monitoring',
  'enableSuperuserAccess',
];

function enabledEmitters(config: Config): string[] {
  return Object.entries(config.emitters)
    .filter(([, section]) => section.enabled)
    .map(([name]) => name);
}

describe('examples/values-*.yaml', () => {
  for (const file of VALUES_FILES) {
    describe(file, () => {
      it('validates as a file of its own, with the Secrets it names', () => {
        const { values, env } = withExampleSecrets(readYaml(path.join(EXAMPLES_DIR, file)));
        gatewayConfig(values, file, env);
      });

      it("validates over the chart's values.yaml", () => {
        exampleConfig(file);
      });

      it('holds no token value and no credential: those live in Secrets it names', () => {
        const values = readYaml(path.join(EXAMPLES_DIR, file));
        const text = readText(path.join(EXAMPLES_DIR, file));
        for (const [name, token] of Object.entries((values.tokens ?? {}) as Record<string, unknown>)) {
          expect(token, `tokens.${name}`).to.be.an('object').that.does.not.have.property('value');
          // The comment shows how to create the Secret with a generated value for this very name.
          expect(text, `tokens.${name}`).to.include(`${name}: $(openssl rand -hex 32)`);
        }
        if (values.tokens)
          expect((values.tokensSecret as { name?: string }).name)
            .to.be.a('string')
            .and.not.equal('');
        const emitters = (values.emitters ?? {}) as Record<string, Record<string, unknown>>;
        expect(emitters.brigade?.apiToken, 'brigade apiToken').to.equal(undefined);
        expect(emitters.kubeapps?.token, 'kubeapps token').to.equal(undefined);
      });
    });
  }

  it('the validation really refuses a broken example (the check itself)', () => {
    const broken = mergeValues(readYaml(path.join(EXAMPLES_DIR, 'values-multi.yaml')), {
      emitters: { knative: { brokerURL: '' } },
    });
    const { values, env } = withExampleSecrets(broken);
    expect(() => gatewayConfig(values, 'x', env)).to.throw(ConfigError, /brokerURL/);
    const { values: noSecret } = withExampleSecrets({
      ...broken,
      tokensSecret: null,
      emitters: { log: { enabled: true } },
    });
    expect(() => gatewayConfig(noSecret)).to.throw(ConfigError, /tokens.acr-myregistry has no value/);
  });

  it('covers one SQLite pod, PostgreSQL HA, and each target', () => {
    const stores = VALUES_FILES.map((f) => exampleConfig(f).delivery as unknown as { store: string });
    expect(stores.map((d) => d.store)).to.include.members(['sqlite', 'postgres']);
    const enabled = new Set(VALUES_FILES.flatMap((f) => enabledEmitters(exampleConfig(f))));
    expect([...enabled].sort()).to.deep.equal(['brigade', 'flux', 'kargo', 'knative', 'kubeapps', 'log', 'webhook']);
  });

  describe('values-postgres-ha.yaml and its CloudNativePG Cluster', () => {
    const values = readYaml(path.join(EXAMPLES_DIR, 'values-postgres-ha.yaml'));
    const [cluster] = readYamlDocuments(path.join(EXAMPLES_DIR, 'postgres', 'cloudnativepg-cluster.yaml'));

    it('is a CloudNativePG Cluster of several instances with synchronous replication', () => {
      expect(cluster).to.include({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster' });
      const spec = cluster.spec as Record<string, any>;
      expect(spec.instances).to.be.greaterThan(1);
      expect(spec.minSyncReplicas).to.be.at.least(1);
      expect(spec.maxSyncReplicas).to.be.at.least(spec.minSyncReplicas).and.below(spec.instances);
      expect(spec.storage.size).to.match(/^\d+(Mi|Gi|Ti)$/);
      expect(
        Object.keys(spec).every((k) => CNPG_SPEC_KEYS.includes(k)),
        Object.keys(spec).join(),
      ).to.equal(true);
    });

    it("takes the database URL from the Secret CloudNativePG writes for the Cluster's app user", () => {
      const postgres = (values.delivery as Record<string, any>).postgres;
      const meta = cluster.metadata as Record<string, string>;
      expect(postgres.urlSecret).to.deep.equal({ name: `${meta.name}-app`, key: 'uri' });
      expect((cluster.spec as Record<string, any>).bootstrap.initdb.owner).to.be.a('string');
      const np = values.networkPolicy as Record<string, any>;
      expect(np.databaseTo[0].podSelector.matchLabels['cnpg.io/cluster']).to.equal(meta.name);
    });
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
      expect(values.existingSecrets).to.deep.equal({
        brigadeApiToken: { name: 'registry-gateway-brigade', key: 'token' },
      });
      const { values: mounted } = withExampleSecrets(mergeValues(chartValues(), values));
      const inPod = gatewayConfig(mounted, 'x', { BRIGADE_API_TOKEN: 'from-the-secret' });
      expect(inPod.emitters.brigade.apiToken).to.equal('from-the-secret');
      expect(() => gatewayConfig(mounted, 'x', {})).to.throw(ConfigError, /apiToken/);
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
        emitters: { kubeapps: { mode: 'kubernetes', address: null, apiServer: '' } },
        existingSecrets: null,
      });
      const { values: mounted } = withExampleSecrets(mergeValues(chartValues(), values));
      expect(gatewayConfig(mounted).emitters.kubeapps.mode).to.equal('kubernetes');
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
