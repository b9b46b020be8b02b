/**
 * The Helm chart, checked without helm: its values file is the gateway's config (README, Install with Helm),
 * so it is validated with the gateway's own schema, and the templates are read as text with
 * their `{{ }}` actions stubbed out, enough to check what they wire up (ports, probes, mounts)
 * against the gateway and the values file.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
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

const TEMPLATES_DIR = path.join(CHART_DIR, 'templates');
const A_TOKEN: Tree = { tokens: { ci: 'chart-test-token-0123456789' } };

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
  return readdirSync(TEMPLATES_DIR).sort();
}

function template(name: string): string {
  return readText(path.join(TEMPLATES_DIR, name));
}

/** `.Values.a.b` and `$.Values.a.b` references in a template, as key paths. */
function valuesReferences(text: string): string[][] {
  return [...text.matchAll(/\.Values((?:\.[A-Za-z_]\w*)+)/g)].map((m) => m[1].slice(1).split('.'));
}

/**
 * A template's YAML skeleton: lines holding nothing but actions (if, with, end, nindent'ed
 * includes) are dropped and every other action becomes a stand-in `TPLn`, whose text is kept in
 * `actions`. Both branches of an `if` survive, which the chart's templates are written to allow.
 */
function skeleton(name: string): { docs: Tree[]; actions: Map<string, string> } {
  const actions = new Map<string, string>();
  const lines = template(name)
    .split('\n')
    .filter((line) => line.replace(/\{\{.*?\}\}/g, '').trim() !== '' || line.trim() === '')
    .map((line) =>
      line.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, inner: string) => {
        const key = `TPL${actions.size}`;
        actions.set(key, inner);
        return key;
      }),
    );
  const docs = parseAllDocuments(lines.join('\n')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${name} skeleton: ${doc.errors[0].message}`);
    return doc.toJS() as Tree | null;
  });
  return { docs: docs.filter((d): d is Tree => isMap(d)), actions };
}

function actionOf(actions: Map<string, string>, standIn: unknown): string {
  const action = actions.get(String(standIn));
  if (action === undefined) throw new Error(`${String(standIn)} is not a template action`);
  return action;
}

/**
 * Drops what the gateway's defaults cannot show: chart keys, an empty host (the key has no
 * default) and filters' empty lists (which match everything, as an absent list does).
 */
function gatewayPart(config: Config): Tree {
  const copy = JSON.parse(JSON.stringify(config)) as Tree;
  for (const key of chartOnlyKeys) delete copy[key];
  if (copy.host === '') delete copy.host;
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
    it('is refused on its own, naming the missing token, as the chart refuses to render', () => {
      let problems: string[] = [];
      try {
        gatewayConfig(values);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        problems = (err as ConfigError).problems;
      }
      expect(problems).to.deep.equal(['tokens must name at least one token']);
      expect(template('_helpers.tpl')).to.match(/if not \.Values\.tokens \}\}\s*\{\{-? fail /);
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

    describe('secret.yaml', () => {
      const { docs, actions } = skeleton('secret.yaml');

      it('carries the whole values tree (less Helm\'s `global`) as the config file', () => {
        expect(docs).to.have.length(1);
        expect(docs[0]).to.include({ apiVersion: 'v1', kind: 'Secret' });
        const data = docs[0].data as Tree;
        expect(Object.keys(data)).to.deep.equal(['values.yaml']);
        expect(actionOf(actions, data['values.yaml'])).to.equal('omit .Values "global" | toYaml | b64enc | quote');
      });
    });

    describe('statefulset.yaml', () => {
      const { docs, actions } = skeleton('statefulset.yaml');
      const statefulSet = docs[0];
      const podTemplate = (statefulSet.spec as Tree).template as Tree;
      const pod = podTemplate.spec as Tree;
      const container = (pod.containers as Tree[])[0];
      const configArg = (container.args as string[])[2];

      it('is a StatefulSet with one volume claim per pod for the store', () => {
        expect(docs).to.have.length(1);
        expect(statefulSet).to.include({ apiVersion: 'apps/v1', kind: 'StatefulSet' });
        const claims = (statefulSet.spec as Tree).volumeClaimTemplates as Tree[];
        expect(claims.map((c) => (c.metadata as Tree).name)).to.deep.equal(['data']);
        expect(actionOf(actions, (statefulSet.spec as Tree).replicas)).to.equal('.Values.replicaCount');
      });

      it('runs `serve --config` on the file the Secret mounts', () => {
        expect(container.args).to.deep.equal(['serve', '--config', configArg]);
        const mounts = container.volumeMounts as Tree[];
        const configMount = mounts.find((m) => m.name === 'config') as Tree;
        expect(configMount).to.include({ mountPath: path.posix.dirname(configArg), readOnly: true });
        const configVolume = (pod.volumes as Tree[]).find((v) => v.name === 'config') as Tree;
        expect(actionOf(actions, (configVolume.secret as Tree).secretName)).to.equal('include "registry-gateway.fullname" .');
        expect(Object.keys(skeleton('secret.yaml').docs[0].data as Tree)).to.deep.equal([path.posix.basename(configArg)]);
      });

      it('restarts pods when the config changes', () => {
        const annotations = (podTemplate.metadata as Tree).annotations as Tree;
        expect(actionOf(actions, annotations['checksum/config'])).to.equal(
          'include (print $.Template.BasePath "/secret.yaml") . | sha256sum',
        );
      });

      it("listens on server.port and probes the gateway's health and readiness paths there", () => {
        const ports = container.ports as Tree[];
        expect(ports).to.have.length(1);
        expect(ports[0].name).to.equal('http');
        expect(actionOf(actions, ports[0].containerPort)).to.equal('.Values.server.port');
        expect((container.livenessProbe as Tree).httpGet).to.deep.equal({ path: '/healthz', port: 'http' });
        expect((container.readinessProbe as Tree).httpGet).to.deep.equal({ path: '/readyz', port: 'http' });
      });

      it('mounts the store volume at delivery.dir and a scratch /tmp, the root being read-only', () => {
        const mounts = container.volumeMounts as Tree[];
        const data = mounts.find((m) => m.name === 'data') as Tree;
        expect(actionOf(actions, data.mountPath)).to.equal('.Values.delivery.dir');
        expect(mounts.find((m) => m.name === 'tmp')).to.include({ mountPath: '/tmp' });
        expect((values.securityContext as Tree).readOnlyRootFilesystem).to.equal(true);
        expect((values.podSecurityContext as Tree).runAsNonRoot).to.equal(true);
      });

      it('gives the pod longer to stop than the preStop pause plus the gateway drain', () => {
        const expression = actionOf(actions, pod.terminationGracePeriodSeconds);
        const match = expression.match(/^add \.Values\.server\.shutdownTimeoutSeconds (\d+)$/);
        expect(match, expression).to.not.equal(null);
        const preStop = ((container.lifecycle as Tree).preStop as Tree).exec as Tree;
        const [sleep, seconds] = preStop.command as string[];
        expect(sleep).to.equal('sleep');
        const shutdown = Number((values.server as Tree).shutdownTimeoutSeconds);
        const grace = shutdown + Number(match![1]);
        expect(grace).to.be.greaterThan(shutdown + Number(seconds));
      });

      it('runs as the uid the image is built with', () => {
        const uid = (values.podSecurityContext as Tree).runAsUser;
        expect(readText(repoPath('Dockerfile'))).to.match(new RegExp(`^USER ${String(uid)}(:\\d+)?$`, 'm'));
      });
    });

    describe('service.yaml and ingress.yaml', () => {
      it('route the Service to the named container port', () => {
        const { docs } = skeleton('service.yaml');
        expect(docs.map((d) => d.kind)).to.deep.equal(['Service', 'Service']);
        for (const service of docs) {
          expect(((service.spec as Tree).ports as Tree[])[0]).to.include({ name: 'http', targetPort: 'http' });
        }
        expect((docs[1].spec as Tree).clusterIP).to.equal('None');
      });

      it('expose every webhook path and nothing else, under the top-level host', () => {
        const { docs, actions } = skeleton('ingress.yaml');
        const rule = ((docs[0].spec as Tree).rules as Tree[])[0];
        expect(actionOf(actions, rule.host)).to.equal('.Values.host | quote');
        const paths = (rule.http as Tree).paths as Tree[];
        expect(paths.map((p) => [p.path, p.pathType])).to.deep.equal([['/events', 'Prefix']]);
        for (const gatewayPath of gatewayEventPaths()) {
          expect(gatewayPath === '/events' || gatewayPath.startsWith('/events/'), gatewayPath).to.equal(true);
        }
      });
    });

    describe('rbac.yaml', () => {
      it('grants get and update on apprepositories.kubeapps.com, and only that', () => {
        const { docs } = skeleton('rbac.yaml');
        const role = docs.find((d) => d.kind === 'Role') as Tree;
        expect(role.rules).to.deep.equal([
          { apiGroups: ['kubeapps.com'], resources: ['apprepositories'], verbs: ['get', 'update'] },
        ]);
        const binding = docs.find((d) => d.kind === 'RoleBinding') as Tree;
        expect((binding.roleRef as Tree).kind).to.equal('Role');
      });
    });

    describe('servicemonitor.yaml', () => {
      it('scrapes /metrics on the http port', () => {
        const { docs } = skeleton('servicemonitor.yaml');
        expect(((docs[0].spec as Tree).endpoints as Tree[])[0]).to.include({ port: 'http', path: '/metrics' });
      });
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
