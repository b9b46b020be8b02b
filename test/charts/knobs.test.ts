/**
 * The chart knobs operators of other charts expect, each rendered by the real helm, each object
 * checked against its kind's schema (kubernetes-models, and the Gateway API's for HTTPRoute),
 * and each documented: in values.schema.json (so helm refuses a wrong shape) and the chart README.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import path from 'node:path';
import { CHART_DIR, readText, type Tree } from '../examples/support';
import { find, FULLNAME, gatewayContainer, podInputs, podSpec, render, templateRun, validateObject, type ValuesInput } from './helm';

const TOKEN = { tokens: { ci: 'chart-test-token-5b7e0c2d9a' } };
const POSTGRES = { delivery: { store: 'postgres', postgres: { urlSecret: { name: 'db-app', key: 'uri' } } } };

async function renderValid(input: ValuesInput): Promise<Tree[]> {
  const objects = render(input);
  for (const object of objects) await validateObject(object);
  return objects;
}

function workload(objects: Tree[]): Tree {
  return objects.find((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')!;
}

const KNOBS = [
  'priorityClassName',
  'podLabels',
  'commonLabels',
  'envFrom',
  'extraVolumes',
  'extraVolumeMounts',
  'sidecars',
  'initContainers',
  'extraObjects',
  'startupProbe',
  'livenessProbe',
  'readinessProbe',
  'revisionHistoryLimit',
  'service.loadBalancerSourceRanges',
  'service.adminPort',
  'serviceMonitor.relabelings',
  'serviceMonitor.metricRelabelings',
  'existingSecrets.consoleTokens',
  'httpRoute',
  'server.adminPort',
];

describe('chart knobs', function () {
  this.timeout(120_000);

  it('documents every knob in values.schema.json and the chart README', () => {
    const schema = JSON.parse(readText(path.join(CHART_DIR, 'values.schema.json'))) as Tree;
    const readme = readText(path.join(CHART_DIR, 'README.md'));
    for (const knob of KNOBS) {
      let node: Tree | undefined = schema;
      for (const key of knob.split('.')) node = (node?.properties as Tree | undefined)?.[key] as Tree | undefined;
      expect(node, `values.schema.json ${knob}`).to.not.equal(undefined);
      expect(readme, `chart README ${knob}`).to.include(`\`${knob}`);
    }
  });

  it('refuses a knob of the wrong shape before rendering', () => {
    expect(templateRun({ set: ['revisionHistoryLimit=many'] }).stderr).to.include('/revisionHistoryLimit');
    expect(templateRun({ values: { sidecars: [{ image: 'x' }] } }).stderr).to.include('/sidecars/0');
    expect(templateRun({ values: { startupProbe: { httpGet: { path: '/' } } } }).stderr).to.include('/startupProbe');
  });

  it('puts labels on every object and the pods, never over the selector labels', async () => {
    const objects = await renderValid({
      values: { ...TOKEN, commonLabels: { team: 'platform', 'app.kubernetes.io/name': 'hijack' }, podLabels: { tier: 'edge' } },
    });
    for (const object of objects) expect(((object.metadata as Tree).labels as Tree)?.team, String(object.kind)).to.equal('platform');
    const template = ((workload(objects).spec as Tree).template as Tree).metadata as Tree;
    expect(template.labels).to.deep.include({ team: 'platform', tier: 'edge', 'app.kubernetes.io/name': 'registry-gateway' });
    const selector = ((workload(objects).spec as Tree).selector as Tree).matchLabels as Tree;
    for (const [k, v] of Object.entries(selector)) expect((template.labels as Tree)[k]).to.equal(v);
  });

  it('adds priority class, revision history, envFrom, volumes, mounts, sidecars and init containers', async () => {
    for (const store of [{}, POSTGRES]) {
      const objects = await renderValid({
        values: {
          ...TOKEN,
          ...store,
          priorityClassName: 'critical-webhooks',
          revisionHistoryLimit: 3,
          envFrom: [{ configMapRef: { name: 'proxy-env' } }],
          extraVolumes: [{ name: 'ca', configMap: { name: 'corporate-ca' } }],
          extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/corporate-ca', readOnly: true }],
          sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.31.0', args: ['--service-node', '{{ .Release.Name }}'] }],
          initContainers: [{ name: 'wait', image: 'busybox:1.36', command: ['true'] }],
        },
      });
      const spec = podSpec(objects);
      expect(spec.priorityClassName).to.equal('critical-webhooks');
      expect((workload(objects).spec as Tree).revisionHistoryLimit).to.equal(3);
      const containers = spec.containers as Tree[];
      expect(containers.map((c) => c.name)).to.deep.equal(['registry-gateway', 'proxy']);
      expect(containers[1].args).to.deep.equal(['--service-node', 'registry-gateway']);
      expect((spec.initContainers as Tree[]).map((c) => c.name)).to.deep.equal(['wait']);
      expect(gatewayContainer(objects).envFrom).to.deep.equal([{ configMapRef: { name: 'proxy-env' } }]);
      expect(gatewayContainer(objects).volumeMounts).to.deep.include({ name: 'ca', mountPath: '/etc/corporate-ca', readOnly: true });
      expect(spec.volumes).to.deep.include({ name: 'ca', configMap: { name: 'corporate-ca' } });
    }
  });

  it("sizes Node's heap from the container's memory limit, so V8 collects before the OOM killer acts", async () => {
    const env = (objects: Tree[]) => (gatewayContainer(objects).env ?? []) as { name: string; value?: string }[];
    const nodeOptions = (objects: Tree[]) => env(objects).find((e) => e.name === 'NODE_OPTIONS')?.value;
    const cases: [string, number, number][] = [
      ['256Mi', 153, 8],
      ['1Gi', 614, 16],
      ['500M', 286, 14],
      ['268435456', 153, 8],
      ['64Mi', 38, 2],
    ];
    for (const [memory, oldMiB, semiMiB] of cases) {
      const objects = await renderValid({ values: { ...TOKEN, resources: { limits: { memory } } } });
      expect(nodeOptions(objects), memory).to.equal(`--max-old-space-size=${oldMiB} --max-semi-space-size=${semiMiB}`);
    }
    // The flag as rendered bounds a real Node's heap below the limit (old space plus young generation).
    const limit = execFileSync(
      process.execPath,
      ['-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))"],
      { env: { ...process.env, NODE_OPTIONS: nodeOptions(await renderValid({ values: TOKEN })) } },
    ).toString();
    expect(Number(limit) / 2 ** 20).to.be.within(153, 200);
    // No limit, no flag; and an operator's own NODE_OPTIONS is left alone.
    const unlimited = await renderValid({ values: { ...TOKEN, resources: { limits: { memory: null } } } });
    expect(nodeOptions(unlimited)).to.equal(undefined);
    const own = await renderValid({ values: { ...TOKEN, extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=900' }] } });
    expect(env(own).filter((e) => e.name === 'NODE_OPTIONS')).to.deep.equal([{ name: 'NODE_OPTIONS', value: '--max-old-space-size=900' }]);
  });

  it('has a startup probe, and merges probe overrides over the chart probes, keeping their paths', async () => {
    const defaults = gatewayContainer(await renderValid({ values: TOKEN }));
    expect(defaults.startupProbe).to.deep.include({ httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' } });
    const tuned = gatewayContainer(
      await renderValid({
        values: { ...TOKEN, startupProbe: { failureThreshold: 150 }, livenessProbe: { periodSeconds: 30 }, readinessProbe: { timeoutSeconds: 1 } },
      }),
    );
    expect(tuned.startupProbe).to.deep.include({ failureThreshold: 150, periodSeconds: 2 });
    expect(tuned.livenessProbe).to.deep.include({ periodSeconds: 30, failureThreshold: 6, httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' } });
    expect(tuned.readinessProbe).to.deep.include({ timeoutSeconds: 1, httpGet: { path: '/readyz', port: 'http', scheme: 'HTTP' } });
    expect(gatewayContainer(render({ values: { ...TOKEN, startupProbe: { enabled: false } } })).startupProbe).to.equal(undefined);
  });

  it('renders extraObjects, templating them', async () => {
    const objects = await renderValid({
      values: {
        ...TOKEN,
        extraObjects: [
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '{{ .Release.Name }}-extra' }, data: { a: 'b' } },
          'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ include "registry-gateway.fullname" . }}-extra',
        ],
      },
    });
    expect(find(objects, 'ConfigMap', 'registry-gateway-extra').data).to.deep.equal({ a: 'b' });
    find(objects, 'ServiceAccount', `${FULLNAME}-extra`);
  });

  it('limits a LoadBalancer to loadBalancerSourceRanges, on the webhook Service only', async () => {
    const objects = await renderValid({ values: { ...TOKEN, service: { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/24'] } } });
    expect((find(objects, 'Service', FULLNAME).spec as Tree).loadBalancerSourceRanges).to.deep.equal(['203.0.113.0/24']);
    expect((find(objects, 'Service', `${FULLNAME}-admin`).spec as Tree).type).to.equal('ClusterIP');
  });

  it('relabels in the ServiceMonitor', async () => {
    const relabelings = [{ action: 'replace', targetLabel: 'cluster', replacement: 'prod-eu1' }];
    const metricRelabelings = [{ action: 'drop', sourceLabels: ['__name__'], regex: 'registry_gateway_nodejs_.*' }];
    const objects = await renderValid({ values: { ...TOKEN, serviceMonitor: { enabled: true, relabelings, metricRelabelings } } });
    const endpoint = ((find(objects, 'ServiceMonitor').spec as Tree).endpoints as Tree[])[0];
    expect(endpoint).to.deep.include({ relabelings, metricRelabelings });
  });

  describe('admin port', () => {
    it('is its own ClusterIP Service, which the Ingress, the HTTPRoute and the webhook rule of the NetworkPolicy never name', async () => {
      const objects = await renderValid({
        values: {
          ...TOKEN,
          host: 'gw.example.com',
          ingress: { enabled: true },
          httpRoute: { enabled: true, parentRefs: [{ name: 'public', namespace: 'gateway-system' }] },
          networkPolicy: { enabled: true },
          service: { type: 'LoadBalancer' },
        },
      });
      const webhook = find(objects, 'Service', FULLNAME);
      const admin = find(objects, 'Service', `${FULLNAME}-admin`);
      expect(((webhook.spec as Tree).ports as Tree[]).map((p) => p.targetPort)).to.deep.equal(['http']);
      expect((admin.spec as Tree).type).to.equal('ClusterIP');
      expect((admin.spec as Tree).ports).to.deep.equal([{ name: 'admin', port: 9090, targetPort: 'admin', protocol: 'TCP' }]);
      const backend = ((((find(objects, 'Ingress').spec as Tree).rules as Tree[])[0].http as Tree).paths as Tree[])[0].backend as Tree;
      expect((backend.service as Tree).name).to.equal(FULLNAME);
      const route = find(objects, 'HTTPRoute').spec as Tree;
      expect(((route.rules as Tree[])[0].backendRefs as Tree[]).map((b) => b.name)).to.deep.equal([FULLNAME]);
      const ingressRules = (find(objects, 'NetworkPolicy').spec as Tree).ingress as Tree[];
      expect((ingressRules[0].ports as Tree[]).map((p) => p.port)).to.deep.equal(['http']);
      expect((ingressRules[1].ports as Tree[]).map((p) => p.port)).to.deep.equal(['admin']);
    });

    it('is the port the gateway is configured to serve the console and /metrics on', () => {
      const objects = render({ values: { ...TOKEN, server: { adminPort: 9443 } } });
      expect((podInputs(objects).config.server as Tree).adminPort).to.equal(9443);
      expect((gatewayContainer(objects).ports as Tree[]).find((p) => p.name === 'admin')).to.include({ containerPort: 9443 });
      expect(templateRun({ values: { ...TOKEN, server: { adminPort: 8080 } } }).stderr).to.include('server.adminPort must differ');
    });
  });

  describe('HTTPRoute', () => {
    it('routes only /events under host to the webhook Service, checked against the Gateway API schema', async () => {
      const objects = await renderValid({
        values: { ...TOKEN, host: 'gw.example.com', httpRoute: { enabled: true, parentRefs: [{ name: 'public', namespace: 'gateway-system' }] } },
      });
      const spec = find(objects, 'HTTPRoute').spec as Tree;
      expect(spec.hostnames).to.deep.equal(['gw.example.com']);
      expect(spec.parentRefs).to.deep.equal([{ name: 'public', namespace: 'gateway-system' }]);
      expect(spec.rules).to.deep.equal([
        { matches: [{ path: { type: 'PathPrefix', value: '/events' } }], backendRefs: [{ name: FULLNAME, port: 80 }] },
      ]);
    });

    it('needs a host and a parent Gateway, saying so', () => {
      expect(templateRun({ values: { ...TOKEN, httpRoute: { enabled: true, parentRefs: [{ name: 'g' }] } } }).stderr).to.include('httpRoute.enabled needs host');
      expect(templateRun({ values: { ...TOKEN, host: 'gw.example.com', httpRoute: { enabled: true } } }).stderr).to.include('httpRoute.parentRefs');
    });

    it('is checked by a schema that refuses a broken route (the check itself)', async () => {
      const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'x' }, spec: { rules: [{ backendRefs: [{ port: 'eighty' }] }] } };
      let refused = false;
      await validateObject(route).catch(() => (refused = true));
      expect(refused).to.equal(true);
    });
  });

  describe('console tokens from an existing Secret', () => {
    it('mounts the Secret where console.tokensFile points', async () => {
      const objects = await renderValid({
        values: { ...TOKEN, console: { enabled: true }, existingSecrets: { consoleTokens: { name: 'operators', key: 'operators.yaml' } } },
      });
      const { config } = podInputs(objects);
      const file = String((config.console as Tree).tokensFile);
      expect(file).to.equal('/etc/registry-gateway-console/operators.yaml');
      const mount = (gatewayContainer(objects).volumeMounts as Tree[]).find((m) => m.mountPath === path.posix.dirname(file)) as Tree;
      const volume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === mount.name) as Tree;
      expect((volume.secret as Tree).secretName).to.equal('operators');
    });

    it('refuses console.tokensFile set by hand: the chart owns it', () => {
      expect(templateRun({ values: { ...TOKEN, console: { tokensFile: '/x' } } }).stderr).to.include('existingSecrets.consoleTokens');
    });
  });
});
