/**
 * The Helm chart against the gateway: its values file is the gateway's config (docs/install.md),
 * so it is validated with the gateway's own schema, its JSON schema is generated from that
 * schema, and what the templates wire up (ports, probes, mounts) is read from a real helm's
 * rendering (helm.test.ts renders every mode).
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { renderValuesSchema, SCHEMA_PATH, valuesSchema } from '../../scripts/values-schema';
import { renderChartReadme, CHART_README } from '../../scripts/chart-readme';
import { ConfigError } from '../../src/config/load';
import { configSchema, type Config } from '../../src/gateway';
import {
  CHART_DIR,
  chartValues,
  gatewayConfig,
  gatewayEventPaths,
  isMap,
  mergeValues,
  readJson,
  readText,
  readYaml,
  repoPath,
  startGateway,
  type Tree,
} from '../examples/support';
import { find, FULLNAME, gatewayContainer, podInputs, podSpec, render, validateObject } from './helm';

const TEMPLATES_DIR = path.join(CHART_DIR, 'templates');
const A_TOKEN: Tree = { tokens: { ci: 'chart-test-token-0123456789' } };
const GATEWAY_KEYS_THE_CHART_SETS = ['tokensFile'];

interface SchemaDescription {
  type: string;
  keys?: Record<string, SchemaDescription>;
}

const described = configSchema.describe() as SchemaDescription;

/** Top-level keys the gateway accepts without reading them: the chart's own settings. */
const chartOnlyKeys = Object.entries(described.keys ?? {})
  .filter(([, schema]) => schema.type === 'any')
  .map(([key]) => key);

/** Every key path the gateway's schema declares (objects with named keys, recursively). */
function declaredKeyPaths(schema: SchemaDescription, prefix: string[] = []): string[][] {
  const paths: string[][] = [];
  for (const [key, child] of Object.entries(schema.keys ?? {})) {
    paths.push([...prefix, key]);
    paths.push(...declaredKeyPaths(child, [...prefix, key]));
  }
  return paths;
}

function hasPath(tree: unknown, keys: string[]): boolean {
  let node = tree;
  for (const key of keys) {
    if (!isMap(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

function templateFiles(): string[] {
  return readdirSync(TEMPLATES_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(TEMPLATES_DIR, path.join(entry.parentPath, entry.name)))
    .sort();
}

function template(name: string): string {
  return readText(path.join(TEMPLATES_DIR, name));
}

/** `.Values.a.b` and `$.Values.a.b` references in a template, as key paths. */
function valuesReferences(text: string): string[][] {
  return [...text.matchAll(/\.Values((?:\.[A-Za-z_]\w*)+)/g)].map((m) => m[1].slice(1).split('.'));
}

/**
 * Drops what the gateway's defaults cannot show: chart keys, an empty host (the key has no
 * default) and filters' empty lists (which match everything, as an absent list does).
 */
function gatewayPart(config: Config): Tree {
  const copy = JSON.parse(JSON.stringify(config)) as Tree;
  for (const key of chartOnlyKeys) delete copy[key];
  if (copy.host === '') delete copy.host;
  // The chart's own key inside a gateway section: the gateway neither reads nor defaults it.
  delete ((copy.delivery as Tree).postgres as Tree).urlSecret;
  for (const section of Object.values(copy.emitters as Tree)) {
    const filter = (section as Tree).filter as Tree;
    for (const [key, list] of Object.entries(filter)) {
      if (Array.isArray(list) && list.length === 0) delete filter[key];
    }
  }
  return copy;
}

describe('charts/registry-gateway', () => {
  const values = chartValues();

  describe('Chart.yaml', () => {
    const chart = readYaml(path.join(CHART_DIR, 'Chart.yaml'));

    it('is a v2 application chart named registry-gateway', () => {
      expect(chart).to.include({ apiVersion: 'v2', type: 'application', name: 'registry-gateway' });
      expect(chart.version).to.match(/^\d+\.\d+\.\d+/);
    });

    it("installs the gateway's own version by default", () => {
      const pkg = readJson<{ version: string }>(repoPath('package.json'));
      expect(chart.appVersion).to.equal(pkg.version);
      expect((values.image as Tree).tag).to.equal('');
    });
  });

  describe('values.yaml as the gateway config', () => {
    it('is refused on its own, naming the missing token, which the chart supplies by generating one', () => {
      let problems: string[] = [];
      try {
        gatewayConfig(values);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        problems = (err as ConfigError).problems;
      }
      expect(problems).to.have.length(1);
      expect(problems[0]).to.match(/^tokens must name at least one token/);
      expect(template('_helpers.tpl')).to.include('define "registry-gateway.generatedToken"');
    });

    it('passes the gateway schema once a token is added', () => {
      const config = gatewayConfig(mergeValues(values, A_TOKEN));
      expect(config.emitters.log.enabled).to.equal(true);
    });

    it("holds exactly the gateway's defaults, so installing the chart changes none of them", () => {
      const fromChart = gatewayConfig(mergeValues(values, A_TOKEN));
      const fromDefaults = gatewayConfig(A_TOKEN);
      expect(gatewayPart(fromChart)).to.deep.equal(gatewayPart(fromDefaults));
    });

    it('spells out every key the gateway schema declares', () => {
      const missing = declaredKeyPaths(described)
        .filter((keys) => !hasPath(values, keys))
        .map((keys) => keys.join('.'));
      expect(missing, 'keys of the gateway schema missing from values.yaml').to.deep.equal([]);
    });

    it('has only keys the gateway knows at the top level', () => {
      const unknown = Object.keys(values).filter((key) => !Object.hasOwn(described.keys ?? {}, key));
      expect(unknown).to.deep.equal([]);
    });

    it('uses every chart-only key in some template, and no other chart keys exist', () => {
      const allTemplates = templateFiles().map(template).join('\n');
      const chartKeysInValues = Object.keys(values).filter((key) => chartOnlyKeys.includes(key));
      const unused = chartKeysInValues.filter((key) => !allTemplates.includes(`.Values.${key}`));
      expect(unused, 'chart keys no template reads').to.deep.equal([]);
      expect(chartKeysInValues.sort()).to.deep.equal([...chartOnlyKeys].sort());
    });

    it('keeps the store where the chart mounts its volume and the image owns the directory', () => {
      const delivery = values.delivery as Tree;
      expect(delivery.dir).to.match(/^\//);
      expect(readText(repoPath('Dockerfile'))).to.include(`chown 10001:10001 ${String(delivery.dir)}`);
    });
  });

  describe('templates', () => {
    it('reference only .Values paths that values.yaml defines', () => {
      const dangling: string[] = [];
      for (const file of templateFiles()) {
        for (const keys of valuesReferences(template(file))) {
          if (!hasPath(values, keys)) dangling.push(`${file}: .Values.${keys.join('.')}`);
        }
      }
      expect(dangling).to.deep.equal([]);
    });

    it('can tell a dangling reference (the check itself)', () => {
      expect(valuesReferences('{{ .Values.server.port }} {{ $.Values.host }}')).to.deep.equal([
        ['server', 'port'],
        ['host'],
      ]);
      expect(hasPath(values, ['server', 'prot'])).to.equal(false);
      expect(hasPath(values, ['server', 'tls', 'enabled'])).to.equal(true);
    });

    describe('as rendered by helm', () => {
      const objects = render({ values: A_TOKEN });
      const container = gatewayContainer(objects);

      it('runs `serve --config` on the file the config Secret mounts', () => {
        const configArg = (container.args as string[])[2];
        expect(container.args).to.deep.equal(['serve', '--config', configArg]);
        const mount = (container.volumeMounts as Tree[]).find((m) => m.name === 'config') as Tree;
        expect(mount).to.include({ mountPath: path.posix.dirname(configArg), readOnly: true });
        const volume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === 'config') as Tree;
        expect((volume.secret as Tree).secretName).to.equal(FULLNAME);
        expect(Object.keys(find(objects, 'Secret', FULLNAME).data as Tree)).to.deep.equal([path.posix.basename(configArg)]);
      });

      it("carries the values less Helm's `global` as the config, plus only the keys the chart wires", () => {
        const { config } = podInputs(render({ values: A_TOKEN, set: ['global.x=1'] }));
        expect(config).to.not.have.property('global');
        const added = Object.keys(config).filter((key) => !Object.hasOwn(values, key));
        expect(added).to.deep.equal([]);
        for (const key of GATEWAY_KEYS_THE_CHART_SETS) expect(values[key], key).to.equal('');
      });

      it("listens on server.port and the admin port the config names, and probes health and readiness on server.port", () => {
        const ports = container.ports as Tree[];
        const { config } = podInputs(objects);
        expect(ports).to.deep.equal([
          { name: 'http', containerPort: (values.server as Tree).port, protocol: 'TCP' },
          { name: 'admin', containerPort: (config.server as Tree).adminPort, protocol: 'TCP' },
        ]);
        expect((config.server as Tree).adminPort).to.be.a('number').and.not.equal((values.server as Tree).port);
        expect((container.livenessProbe as Tree).httpGet).to.deep.include({ path: '/healthz', port: 'http' });
        expect((container.readinessProbe as Tree).httpGet).to.deep.include({ path: '/readyz', port: 'http' });
      });

      it('mounts the store volume at delivery.dir and a scratch /tmp, the root being read-only', () => {
        const mounts = container.volumeMounts as Tree[];
        expect(mounts.find((m) => m.name === 'data')).to.include({ mountPath: (values.delivery as Tree).dir });
        expect(mounts.find((m) => m.name === 'tmp')).to.include({ mountPath: '/tmp' });
        expect((container.securityContext as Tree).readOnlyRootFilesystem).to.equal(true);
        expect((podSpec(objects).securityContext as Tree).runAsNonRoot).to.equal(true);
      });

      it('gives the pod longer to stop than the preStop pause plus the gateway drain', () => {
        const preStop = ((container.lifecycle as Tree).preStop as Tree).exec as Tree;
        const [sleep, seconds] = preStop.command as string[];
        expect(sleep).to.equal('sleep');
        const shutdown = Number((values.server as Tree).shutdownTimeoutSeconds);
        expect(podSpec(objects).terminationGracePeriodSeconds).to.be.greaterThan(shutdown + Number(seconds));
      });

      it('runs as the uid the image is built with', () => {
        const uid = (podSpec(objects).securityContext as Tree).runAsUser;
        expect(readText(repoPath('Dockerfile'))).to.match(new RegExp(`^USER ${String(uid)}(:\\d+)?$`, 'm'));
      });

      it('exposes every webhook path and nothing else on the Ingress, under the top-level host', () => {
        const ingress = find(render({ values: { ...A_TOKEN, host: 'gw.example.com', ingress: { enabled: true } } }), 'Ingress');
        const rule = ((ingress.spec as Tree).rules as Tree[])[0];
        expect(rule.host).to.equal('gw.example.com');
        const paths = (rule.http as Tree).paths as Tree[];
        expect(paths.map((p) => [p.path, p.pathType])).to.deep.equal([['/events', 'Prefix']]);
        for (const gatewayPath of gatewayEventPaths()) {
          expect(gatewayPath === '/events' || gatewayPath.startsWith('/events/'), gatewayPath).to.equal(true);
        }
      });

      it('keeps the console off the Ingress when it is turned on: only port-forward reaches it', () => {
        const console = { enabled: true, tokens: { alice: 'operator-token-7c5a3e1f9d2b' } };
        const ingress = find(render({ values: { ...A_TOKEN, console, host: 'gw.example.com', ingress: { enabled: true } } }), 'Ingress');
        const paths = (((ingress.spec as Tree).rules as Tree[])[0].http as Tree).paths as Tree[];
        expect(paths.map((p) => p.path)).to.deep.equal(['/events']);
      });

      it('grants get and update on apprepositories.kubeapps.com, and only that, in Kubeapps kubernetes mode', () => {
        const rendered = render({
          values: {
            ...A_TOKEN,
            emitters: { kubeapps: { enabled: true, mode: 'kubernetes', repositories: [{ registry: 'r.example.com', prefix: 'c/', namespace: 'kubeapps', name: 'c' }] } },
          },
        });
        expect(find(rendered, 'Role').rules).to.deep.equal([
          { apiGroups: ['kubeapps.com'], resources: ['apprepositories'], verbs: ['get', 'update'] },
        ]);
        expect(podSpec(rendered).automountServiceAccountToken).to.equal(true);
        expect(podSpec(objects).automountServiceAccountToken).to.equal(false);
      });

      it('grants get, list and patch on exactly the kinds the enabled GitOps targets touch', async () => {
        const roles = (rendered: Tree[], kind: string) =>
          rendered
            .filter((o) => o.kind === kind)
            .map((o) => [(o.metadata as Tree).namespace ?? '', (o.metadata as Tree).name, o.rules]);
        const flux = render({ values: { ...A_TOKEN, emitters: { flux: { enabled: true, namespaces: ['apps', 'web'] } } } });
        const imageRepositories = [
          { apiGroups: ['image.toolkit.fluxcd.io'], resources: ['imagerepositories'], verbs: ['get', 'list', 'patch'] },
        ];
        expect(roles(flux, 'Role')).to.deep.equal([
          ['apps', `${FULLNAME}-flux`, imageRepositories],
          ['web', `${FULLNAME}-flux`, imageRepositories],
        ]);
        expect(roles(flux, 'ClusterRole')).to.deep.equal([]);
        expect(podSpec(flux).automountServiceAccountToken).to.equal(true);

        const kargo = render({ values: { ...A_TOKEN, emitters: { kargo: { enabled: true } } } });
        expect(roles(kargo, 'Role')).to.deep.equal([]);
        expect(roles(kargo, 'ClusterRole')).to.deep.equal([
          [
            '',
            `${FULLNAME}-kargo`,
            [
              { apiGroups: ['kargo.akuity.io'], resources: ['warehouses'], verbs: ['get', 'list', 'patch'] },
              { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
            ],
          ],
        ]);
        const binding = find(kargo, 'ClusterRoleBinding', `${FULLNAME}-kargo`);
        expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: FULLNAME, namespace: 'registry-gateway' }]);
        // RBAC objects against Kubernetes' own schemas.
        for (const object of [...flux, ...kargo].filter((o) => String(o.kind).includes('Role'))) {
          await validateObject(object);
        }

        const receiver = { flux: { enabled: true, mode: 'receiver', receiver: { url: 'http://r.example.com/hook/x', token: 't' } } };
        const none = render({ values: { ...A_TOKEN, emitters: receiver } });
        expect(none.filter((o) => String(o.kind).includes('Role'))).to.deep.equal([]);
        expect(podSpec(none).automountServiceAccountToken).to.equal(false);
      });

      it('scrapes /metrics on the admin port, through the admin Service alone', () => {
        const rendered = render({ values: { ...A_TOKEN, serviceMonitor: { enabled: true } } });
        const monitor = find(rendered, 'ServiceMonitor');
        expect(((monitor.spec as Tree).endpoints as Tree[])[0]).to.include({ port: 'admin', path: '/metrics' });
        const selector = ((monitor.spec as Tree).selector as Tree).matchLabels as Tree;
        const selected = rendered.filter(
          (o) => o.kind === 'Service' && Object.entries(selector).every(([k, v]) => ((o.metadata as Tree).labels as Tree)[k] === v),
        );
        expect(selected.map((s) => (s.metadata as Tree).name)).to.deep.equal([`${FULLNAME}-admin`]);
        expect(((selected[0].spec as Tree).ports as Tree[]).map((p) => p.name)).to.deep.equal(['admin']);
      });
    });
  });

  describe('values.schema.json', () => {
    const schema = readJson<Tree>(SCHEMA_PATH);

    it('is what scripts/values-schema.ts generates from the gateway schema (run it after changing either)', () => {
      expect(readText(SCHEMA_PATH)).to.equal(renderValuesSchema());
    });

    it('declares every key of the gateway schema, and every key of values.yaml', () => {
      const has = (keys: string[]) => {
        let node: Tree | undefined = schema;
        for (const key of keys) {
          const props = node?.properties as Tree | undefined;
          const next = (props?.[key] ?? (node?.additionalProperties as Tree | undefined)) as Tree | undefined;
          if (!next || typeof next !== 'object') return false;
          node = (next.anyOf as Tree[] | undefined)?.find((s) => s.type === 'object') ?? next;
          // A Kubernetes object passed through (resources, affinity): open below this point.
          if (node.type === 'object' && !node.properties && !node.additionalProperties && !node.patternProperties) return true;
        }
        return true;
      };
      const missing = declaredKeyPaths(described).filter((keys) => !has(keys)).map((keys) => keys.join('.'));
      expect(missing).to.deep.equal([]);
      const leaves = (tree: Tree, prefix: string[] = []): string[][] =>
        Object.entries(tree).flatMap(([key, value]) =>
          isMap(value) && Object.keys(value).length > 0 ? leaves(value, [...prefix, key]) : [[...prefix, key]],
        );
      const undeclared = leaves(values)
        .filter((keys) => !keys.includes('registryAliases') && !has(keys))
        .map((keys) => keys.join('.'));
      expect(undeclared).to.deep.equal([]);
    });

    it("gives the gateway's keys the gateway's types (a sample)", () => {
      const delivery = (schema.properties as Tree).delivery as Tree;
      expect((delivery.properties as Tree).maxAttempts).to.deep.equal({ type: 'integer', minimum: 1 });
      expect(((delivery.properties as Tree).store as Tree).enum).to.deep.equal(['sqlite', 'postgres']);
      expect(valuesSchema().additionalProperties).to.equal(false);
    });
  });

  describe('README.md of the chart', () => {
    it('holds the values table scripts/chart-readme.ts makes from the comments in values.yaml', () => {
      expect(readText(CHART_README)).to.equal(renderChartReadme());
    });
  });

  describe('against the running gateway', () => {
    it('answers the probe and metrics paths the chart uses', async () => {
      const gateway = await startGateway(gatewayConfig(mergeValues(values, A_TOKEN)));
      try {
        for (const probePath of ['/healthz', '/readyz', '/metrics']) {
          const res = await fetch(`${gateway.url}${probePath}`);
          expect(res.status, probePath).to.equal(200);
        }
      } finally {
        await gateway.close();
      }
    });
  });
});
