/**
 * The chart rendered by a real helm, as operators run it: lint, template and install --dry-run
 * for every example and every mode, each rendered object checked against Kubernetes' schemas,
 * and the config the pod would load checked by the gateway's own `validate`.
 */
import { expect } from 'chai';
import { Metrics } from '../../src/observability/metrics';
import { X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/gateway';
import { RESTART_KEYS } from '../../src/config/reload';
import { runCli } from '../helpers/gateway-process';
import { CHART_DIR, EXAMPLES_DIR, readText, startGateway, type Tree } from '../examples/support';
import {
  decodeSecret,
  find,
  FULLNAME,
  gatewayContainer,
  helm,
  installNotes,
  kinds,
  NAMESPACE,
  podAnnotations,
  podInputs,
  podSpec,
  render,
  templateRun,
  validateObject,
  valuesArgs,
  type ValuesInput,
} from './helm';

/** Every top-level example except the one `make run` serves, which is no chart values file. */
const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => /^values-.*\.yaml$/.test(f) && !f.includes('local'))
  .sort();

const TOKEN = { tokens: { ci: 'chart-test-token-5b7e0c2d9a' } };
const POSTGRES = { delivery: { store: 'postgres', postgres: { urlSecret: { name: 'db-app', key: 'uri' } } } };

const WEBHOOK = {
  emitters: {
    webhook: {
      enabled: true,
      endpoints: [{ name: 'tekton', url: 'http://el-registry.ci.svc:8080', secretFrom: { env: 'WEBHOOK_SECRET_TEKTON' } }],
    },
  },
  existingSecrets: { webhookSecrets: [{ env: 'WEBHOOK_SECRET_TEKTON', name: 'webhooks', key: 'tekton' }] },
};

/** Each mode the chart switches on, rendered over the defaults. */
const MODES: Record<string, ValuesInput> = {
  'defaults (generated token)': {},
  'inline token': { values: TOKEN },
  'postgres': { values: POSTGRES },
  'postgres + autoscaling': { values: { ...POSTGRES, autoscaling: { enabled: true } } },
  'postgres, pdb off, 3 replicas': { values: { ...POSTGRES, pdb: { enabled: false }, replicaCount: 3 } },
  'tls selfSigned': { values: { tls: { mode: 'selfSigned' } } },
  'tls secret': { values: { tls: { mode: 'secret', secretName: 'my-tls' } } },
  'tls certManager + ingress': {
    values: {
      host: 'gw.example.com',
      tls: { mode: 'certManager', issuerRef: { name: 'ca', kind: 'ClusterIssuer' } },
      ingress: { enabled: true, className: 'nginx', tlsSecretName: 'public-tls' },
    },
  },
  'networkPolicy + prometheusRule + serviceMonitor': {
    values: { ...POSTGRES, networkPolicy: { enabled: true }, prometheusRule: { enabled: true }, serviceMonitor: { enabled: true } },
  },
  'existing claim': { values: { persistence: { existingClaim: 'my-claim' } } },
  'no persistence': { values: { persistence: { enabled: false } } },
  'emitter credentials from Secrets': {
    values: {
      emitters: {
        brigade: { enabled: true },
        knative: { enabled: true },
        kubeapps: {
          enabled: true,
          address: 'http://kubeapps.kubeapps.svc',
          repositories: [{ registry: 'r.example.com', prefix: 'charts/', namespace: 'kubeapps', name: 'charts' }],
        },
      },
      existingSecrets: {
        brigadeApiToken: { name: 'brigade', key: 'token' },
        knativeBrokerURL: { name: 'knative', key: 'url' },
        kubeappsToken: { name: 'kubeapps', key: 'token' },
      },
    },
  },
  'webhook endpoints with secrets from a Secret': { values: WEBHOOK },
  'image digest': { set: [`image.digest=sha256:${'a'.repeat(64)}`, `image.tag=${'1.2.3-rc.1+build.'.padEnd(80, '7')}`] },
};

const CASES: [string, ValuesInput][] = [
  ...EXAMPLES.map((file): [string, ValuesInput] => [`examples/${file}`, { examples: [file] }]),
  ...Object.entries(MODES),
];

function envFrom(objects: Tree[], name: string): Tree | undefined {
  return ((gatewayContainer(objects).env as Tree[] | undefined) ?? []).find((e) => e.name === name);
}

describe('charts/registry-gateway with helm', function () {
  this.timeout(120_000);

  it('finds helm and the examples (the suite cannot pass by testing nothing)', () => {
    expect(helm(['version', '--short']).stdout).to.match(/^v4\./);
    expect(EXAMPLES).to.include.members(['values-sqlite.yaml', 'values-postgres-ha.yaml', 'values-brigade-acr.yaml']);
  });

  for (const [name, input] of CASES) {
    describe(name, () => {
      let objects: Tree[] = [];
      before(() => {
        objects = render(input);
      });

      it('passes helm lint --strict', () => {
        const run = helm(['lint', '--strict', CHART_DIR, ...valuesArgs(input)]);
        expect(run.code, run.stdout + run.stderr).to.equal(0);
      });

      it("renders objects that each pass their kind's Kubernetes schema", async () => {
        expect(objects.length).to.be.greaterThan(3);
        for (const object of objects) await validateObject(object);
      });

      it('keeps every label within 63 characters of label syntax', () => {
        for (const object of objects) {
          const labelSets = [(object.metadata as Tree).labels, ((object.spec as Tree)?.template as Tree)?.metadata && (((object.spec as Tree).template as Tree).metadata as Tree).labels];
          for (const labels of labelSets.filter(Boolean) as Tree[]) {
            for (const [key, value] of Object.entries(labels)) {
              expect(String(value), `${String(object.kind)} label ${key}`).to.match(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/);
            }
          }
        }
      });

      it('gives the pod a config that `registry-gateway validate` accepts', async () => {
        const { configFile, env } = podInputs(objects);
        const run = await runCli(['validate', '--config', configFile], env);
        expect(run.code, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/valid \(\d+ token\(s\)/);
      });
    });
  }

  describe('values.schema.json', () => {
    it('refuses a wrong type in lint and template', () => {
      for (const args of [['lint', '--strict', CHART_DIR], ['template', 'x', CHART_DIR]]) {
        const run = helm([...args, '--set', 'replicaCount=abc']);
        expect(run.code).to.not.equal(0);
        expect(run.stdout + run.stderr).to.include('/replicaCount');
      }
      expect(templateRun({ set: ['delivery.maxAttempts=many'] }).stderr).to.include('/delivery/maxAttempts');
      expect(templateRun({ set: ['tls.mode=on'] }).stderr).to.include('/tls/mode');
    });

    it('refuses an unknown top-level key in lint and template, and allows global', () => {
      for (const args of [['lint', '--strict', CHART_DIR], ['template', 'x', CHART_DIR]]) {
        const run = helm([...args, '--set', 'replicas=2']);
        expect(run.code).to.not.equal(0);
        expect(run.stdout + run.stderr).to.include("'replicas' not allowed");
      }
      expect(templateRun({ set: ['global.imageRegistry=r.example.com'] }).code).to.equal(0);
    });
  });

  describe('tokens', () => {
    it('generates one token when none is given, mounts it as the tokens file, and NOTES says how to read it', () => {
      const objects = render();
      const secret = find(objects, 'Secret', `${FULLNAME}-token`);
      const token = decodeSecret(secret, 'token');
      expect(token).to.match(/^[0-9a-f]{64}$/);
      expect(parse(decodeSecret(secret, 'tokens.yaml'))).to.deep.equal({ generated: token });
      expect(podInputs(objects).config.tokensFile).to.be.a('string');
      const notes = installNotes();
      expect(notes).to.include(`kubectl -n ${NAMESPACE} get secret ${FULLNAME}-token -o jsonpath='{.data.token}' | base64 -d`);
      expect(notes).to.not.include(token);
    });

    it('generates none when tokens are given in values or in a Secret', () => {
      expect(render({ values: TOKEN }).some((o) => (o.metadata as Tree).name === `${FULLNAME}-token`)).to.equal(false);
      const objects = render({ examples: ['values-brigade-acr.yaml'] });
      expect(objects.some((o) => (o.metadata as Tree).name === `${FULLNAME}-token`)).to.equal(false);
      const tokensVolume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === 'tokens') as Tree;
      expect((tokensVolume.secret as Tree).secretName).to.equal('registry-gateway-tokens');
    });

    it('drops a token set to null (`--set tokens.old=null`) instead of crash-looping', async () => {
      const objects = render({ values: { tokens: { ...TOKEN.tokens, old: 'old-token-0123456789abc' } }, set: ['tokens.old=null'] });
      const { configFile, env } = podInputs(objects);
      const run = await runCli(['validate', '--config', configFile], env);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('1 token(s)');
    });

    it('lets validate refuse a placeholder token in the rendered config, naming it, not quoting it', async () => {
      const objects = render({ values: { tokens: { ci: '<openssl rand -hex 32>' } } });
      const { configFile, env } = podInputs(objects);
      const run = await runCli(['validate', '--config', configFile], env);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.include('tokens.ci looks like a placeholder');
      expect(run.stderr).to.include('openssl rand -hex 32');
      expect(run.stderr).to.not.include('<openssl');
    });

    it('rolls no pod when only tokens or other live keys change, and rolls them for restart keys', () => {
      const checksum = (input: ValuesInput) => podAnnotations(render(input))['checksum/config'];
      const base = checksum({ values: TOKEN });
      expect(checksum({ values: { tokens: { ci: 'another-token-9d8c7b6a5f4e' } } })).to.equal(base);
      expect(checksum({ values: { ...TOKEN, registryAliases: { 'a.example.com': 'b.example.com' }, sources: { acr: 'example.com/acr' } } })).to.equal(base);
      expect(checksum({ values: { ...TOKEN, delivery: { maxAttempts: 3 } } })).to.not.equal(base);
      expect(checksum({ values: { ...TOKEN, logLevel: 'debug' } })).to.not.equal(base);
    });

    it('sums exactly the keys the gateway cannot reload', () => {
      const helpers = readText(path.join(CHART_DIR, 'templates', '_helpers.tpl'));
      const picked = helpers.match(/pick \$config ((?:"\w+" ?)+)/);
      expect(picked, 'the restartChecksum pick').to.not.equal(null);
      expect(picked![1].trim().split(/\s+/).map((k) => k.replace(/"/g, '')).sort()).to.deep.equal([...RESTART_KEYS].sort());
    });
  });

  describe('workload', () => {
    it('SQLite: one StatefulSet pod with its claim, no PDB or HPA', () => {
      const objects = render({ values: TOKEN });
      const sts = find(objects, 'StatefulSet');
      expect((sts.spec as Tree).replicas).to.equal(1);
      expect(((sts.spec as Tree).volumeClaimTemplates as Tree[]).map((c) => (c.metadata as Tree).name)).to.deep.equal(['data']);
      expect(kinds(objects)).to.not.include.members(['Deployment', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']);
    });

    it('SQLite refuses autoscaling and more than one replica, saying why', () => {
      const scaled = templateRun({ values: { ...TOKEN, autoscaling: { enabled: true } } });
      expect(scaled.code).to.not.equal(0);
      expect(scaled.stderr).to.include('autoscaling.enabled needs delivery.store postgres');
      const two = templateRun({ values: { ...TOKEN, replicaCount: 2 } });
      expect(two.stderr).to.include('replicaCount above 1 needs delivery.store postgres');
    });

    it('an existing claim replaces the claim template', () => {
      const objects = render({ values: { ...TOKEN, persistence: { existingClaim: 'data-old-0' } } });
      expect((find(objects, 'StatefulSet').spec as Tree).volumeClaimTemplates).to.equal(undefined);
      const data = (podSpec(objects).volumes as Tree[]).find((v) => v.name === 'data') as Tree;
      expect(data.persistentVolumeClaim).to.deep.equal({ claimName: 'data-old-0' });
    });

    it('PostgreSQL: a Deployment of 2 that surges before it removes, spread, with a PDB and DATABASE_URL', () => {
      const objects = render({ values: { ...TOKEN, ...POSTGRES } });
      const deployment = find(objects, 'Deployment');
      const spec = deployment.spec as Tree;
      expect(spec.replicas).to.equal(2);
      expect(spec.strategy).to.deep.equal({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      const spread = podSpec(objects).topologySpreadConstraints as Tree[];
      expect(spread.map((c) => c.topologyKey)).to.deep.equal(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      expect((find(objects, 'PodDisruptionBudget').spec as Tree).maxUnavailable).to.equal(1);
      expect(envFrom(objects, 'DATABASE_URL')).to.deep.equal({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-app', key: 'uri' } } });
      expect(kinds(objects)).to.not.include('StatefulSet');
      // The webhook Service and the admin one; no headless Service without a StatefulSet.
      expect(objects.filter((o) => o.kind === 'Service').map((s) => (s.metadata as Tree).name)).to.deep.equal([FULLNAME, `${FULLNAME}-admin`]);
    });

    it('webhook endpoint secrets: each entry of existingSecrets.webhookSecrets is the variable its endpoint reads', () => {
      const objects = render({ values: { ...TOKEN, ...WEBHOOK } });
      expect(envFrom(objects, 'WEBHOOK_SECRET_TEKTON')).to.deep.equal({
        name: 'WEBHOOK_SECRET_TEKTON',
        valueFrom: { secretKeyRef: { name: 'webhooks', key: 'tekton' } },
      });
    });

    it('PostgreSQL with autoscaling: an HPA owns the replica count', () => {
      const objects = render({ values: { ...TOKEN, ...POSTGRES, autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 7 } } });
      expect((find(objects, 'Deployment').spec as Tree).replicas).to.equal(undefined);
      const hpa = find(objects, 'HorizontalPodAutoscaler').spec as Tree;
      expect(hpa).to.deep.include({ minReplicas: 3, maxReplicas: 7 });
      expect((hpa.scaleTargetRef as Tree).kind).to.equal('Deployment');
    });

    it('PostgreSQL without a database URL is refused', () => {
      const run = templateRun({ values: { ...TOKEN, delivery: { store: 'postgres' } } });
      expect(run.stderr).to.include('delivery.postgres.urlSecret');
    });

    it('pins an image digest without putting it in a label', () => {
      const digest = `sha256:${'b'.repeat(64)}`;
      const objects = render({ values: TOKEN, set: [`image.digest=${digest}`] });
      expect(gatewayContainer(objects).image).to.equal(`ghcr.io/registry-gateway/registry-gateway@${digest}`);
      expect(JSON.stringify(objects.map((o) => (o.metadata as Tree).labels))).to.not.include('sha256');
    });
  });

  describe('TLS', () => {
    it('none: plain HTTP probes, no certificate', () => {
      const objects = render({ values: TOKEN });
      expect(((gatewayContainer(objects).readinessProbe as Tree).httpGet as Tree).scheme).to.equal('HTTP');
      expect(podInputs(objects).config.server).to.deep.include({ tls: { enabled: false, certPath: '', keyPath: '' } });
    });

    it('selfSigned: a kubernetes.io/tls Secret for the Service names, served by the gateway itself', () => {
      const objects = render({ values: { ...TOKEN, host: 'gw.example.com', tls: { mode: 'selfSigned' } } });
      const secret = find(objects, 'Secret', `${FULLNAME}-tls`);
      expect(secret.type).to.equal('kubernetes.io/tls');
      const cert = new X509Certificate(decodeSecret(secret, 'tls.crt'));
      for (const name of [`${FULLNAME}.${NAMESPACE}.svc`, 'gw.example.com']) expect(cert.checkHost(name), name).to.equal(name);
      const { config } = podInputs(objects);
      const tls = (config.server as Tree).tls as Tree;
      expect(tls.enabled).to.equal(true);
      const mount = (gatewayContainer(objects).volumeMounts as Tree[]).find((m) => m.name === 'tls') as Tree;
      expect(path.posix.dirname(String(tls.certPath))).to.equal(mount.mountPath);
      expect(((gatewayContainer(objects).readinessProbe as Tree).httpGet as Tree).scheme).to.equal('HTTPS');
      expect((find(objects, 'Service').spec as Tree).ports).to.deep.include({ name: 'http', port: 443, targetPort: 'http', protocol: 'TCP', appProtocol: 'https' });
    });

    it('secret: mounts the named Secret; refuses to render without a name', () => {
      const objects = render({ values: { ...TOKEN, tls: { mode: 'secret', secretName: 'mine' } } });
      const volume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === 'tls') as Tree;
      expect((volume.secret as Tree).secretName).to.equal('mine');
      expect(templateRun({ values: { ...TOKEN, tls: { mode: 'secret' } } }).stderr).to.include('tls.secretName');
    });

    it('certManager: a Certificate from issuerRef into the mounted Secret', () => {
      const objects = render({ values: { ...TOKEN, tls: { mode: 'certManager', issuerRef: { name: 'ca', kind: 'ClusterIssuer' } } } });
      const cert = find(objects, 'Certificate').spec as Tree;
      expect(cert.issuerRef).to.deep.equal({ name: 'ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
      const volume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === 'tls') as Tree;
      expect((volume.secret as Tree).secretName).to.equal(cert.secretName);
      expect(templateRun({ values: { ...TOKEN, tls: { mode: 'certManager' } } }).stderr).to.include('tls.issuerRef.name');
    });

    it('refuses server.tls set by hand: the chart owns it', () => {
      expect(templateRun({ values: { ...TOKEN, server: { tls: { enabled: true, certPath: '/a', keyPath: '/b' } } } }).stderr).to.include('tls.mode');
    });
  });

  describe('NetworkPolicy and PrometheusRule', () => {
    const objects = () => render({ values: { ...TOKEN, ...POSTGRES, networkPolicy: { enabled: true }, prometheusRule: { enabled: true } } });

    it('lets webhooks in from the named peers and the helm test pod, metrics from monitoring, out to DNS, targets and the database', () => {
      const rendered = objects();
      const policy = find(rendered, 'NetworkPolicy').spec as Tree;
      const ingress = policy.ingress as Tree[];
      expect(JSON.stringify(ingress[0].from)).to.include('ingress-nginx');
      const testPod = find(rendered, 'Pod');
      const testLabels = (testPod.metadata as Tree).labels as Tree;
      const fromTest = (ingress[0].from as Tree[]).find((p) => p.podSelector) as Tree;
      for (const [k, v] of Object.entries((fromTest.podSelector as Tree).matchLabels as Tree)) expect(testLabels[k]).to.equal(v);
      expect(JSON.stringify(ingress[1].from)).to.include('"kubernetes.io/metadata.name":"monitoring"');
      const egressPorts = (policy.egress as Tree[]).flatMap((r) => (r.ports as Tree[]).map((p) => p.port));
      expect(egressPorts).to.include.members([53, 443, 5432]);
    });

    it('alerts only on metrics the gateway exports', () => {
      const rule = find(objects(), 'PrometheusRule');
      // The series a running gateway registers, read from its own registry rather than its source text.
      const exported = new Set(new Metrics().registry.getMetricsAsArray().map((m) => m.name));
      const rules = ((rule.spec as Tree).groups as Tree[]).flatMap((g) => g.rules as Tree[]);
      expect(rules.map((r) => r.alert)).to.have.members([
        'RegistryGatewayDeadLetters',
        'RegistryGatewayBacklogGrowing',
        'RegistryGatewayTargetFailing',
        'RegistryGatewayStoreRefusing',
      ]);
      for (const r of rules) {
        const used = [...String(r.expr).matchAll(/registry_gateway_\w+/g)].map((m) => m[0]);
        expect(used.length, String(r.alert)).to.be.greaterThan(0);
        for (const metric of used) expect(exported, `${String(r.alert)}: ${metric}`).to.include(metric);
      }
    });
  });

  describe('NOTES', () => {
    const cases: [string, ValuesInput, string][] = [
      ['ingress with TLS', { values: { ...TOKEN, host: 'gw.example.com', ingress: { enabled: true, tlsSecretName: 't' } } }, 'https://gw.example.com'],
      ['ingress without TLS', { values: { ...TOKEN, host: 'gw.example.com', ingress: { enabled: true } } }, 'http://gw.example.com'],
      ['ClusterIP, no TLS', { values: TOKEN }, `http://${FULLNAME}.${NAMESPACE}.svc:80`],
      ['ClusterIP, gateway TLS', { values: { ...TOKEN, tls: { mode: 'selfSigned' } } }, `https://${FULLNAME}.${NAMESPACE}.svc:443`],
      ['LoadBalancer, gateway TLS', { values: { ...TOKEN, tls: { mode: 'selfSigned' }, service: { type: 'LoadBalancer' } } }, 'https://<EXTERNAL-IP>:443'],
      ['LoadBalancer, no TLS, port 8443', { values: { ...TOKEN, service: { type: 'LoadBalancer', port: 8443 } } }, 'http://<EXTERNAL-IP>:8443'],
      ['NodePort', { values: TOKEN, set: ['service.type=NodePort'] }, 'http://<NODE-IP>:<NODE-PORT>'],
    ];
    for (const [name, input, base] of cases) {
      it(`${name}: ${base}`, () => {
        const notes = installNotes(input);
        expect(notes).to.include(`${base}/events`);
        expect(notes).to.include(`--uri ${base}/events/acr `);
        expect(notes).to.include(`--endpoint ${base}/events/eventgrid `);
        expect(notes).to.include(`Endpoint URL ${base}/events/harbor,`);
        const other = base.startsWith('https') ? base.replace('https', 'http') : base.replace('http', 'https');
        expect(notes).to.not.include(`${other}/`);
      });
    }

    it('never prints a token value', () => {
      expect(installNotes({ values: TOKEN })).to.not.include(TOKEN.tokens.ci);
    });
  });

  describe('helm test', () => {
    it("runs the image's own CLI to post the ACR ping with a token, expecting 200", () => {
      const objects = render({ values: { ...TOKEN, tls: { mode: 'selfSigned' } } });
      const pod = find(objects, 'Pod');
      expect(((pod.metadata as Tree).annotations as Tree)['helm.sh/hook']).to.equal('test');
      const container = ((pod.spec as Tree).containers as Tree[])[0];
      expect(container.image).to.equal(gatewayContainer(objects).image);
      expect(container.args).to.deep.equal([
        'send',
        '--url',
        `https://${FULLNAME}.${NAMESPACE}.svc:443/events/acr`,
        '--expect',
        '200',
        '/payload/acr-ping.json',
      ]);
      const payload = find(objects, 'ConfigMap', `${FULLNAME}-test-payload`);
      expect(JSON.parse(String((payload.data as Tree)['acr-ping.json']))).to.deep.equal(
        JSON.parse(readText(path.join(EXAMPLES_DIR, 'payloads', 'acr-ping.json'))),
      );
      const tokenRef = ((container.env as Tree[])[0].valueFrom as Tree).secretKeyRef as Tree;
      expect(decodeSecret(find(objects, 'Secret', String(tokenRef.name)), String(tokenRef.key))).to.equal(TOKEN.tokens.ci);
      // Not the gateway's selector: its controller would adopt the pod, its Service route to it.
      const selector = ((find(objects, 'StatefulSet').spec as Tree).selector as Tree).matchLabels as Tree;
      const labels = (pod.metadata as Tree).labels as Tree;
      expect(Object.entries(selector).every(([k, v]) => labels[k] === v)).to.equal(false);
    });

    it("passes against a gateway serving the rendered config, and fails on a token it does not know", async () => {
      const objects = render();
      const { configFile, env } = podInputs(objects);
      const config = loadConfig(configFile, env);
      const gateway = await startGateway(config);
      try {
        const container = ((find(objects, 'Pod').spec as Tree).containers as Tree[])[0];
        const args = (container.args as string[]).map((arg) =>
          arg.startsWith('http') ? `${gateway.url}${new URL(arg).pathname}` : arg.startsWith('/payload/') ? path.join(CHART_DIR, 'files', path.basename(arg)) : arg,
        );
        const ref = ((container.env as Tree[])[0].valueFrom as Tree).secretKeyRef as Tree;
        const token = decodeSecret(find(objects, 'Secret', String(ref.name)), String(ref.key));
        const passed = await runCli(args, { REGISTRY_GATEWAY_TOKEN: token });
        expect(passed.code, passed.stderr).to.equal(0);
        expect(passed.stdout).to.include(': 200 ');
        const refused = await runCli(args, { REGISTRY_GATEWAY_TOKEN: 'not-the-token-0f1e2d3c4b5a' });
        expect(refused.code).to.equal(1);
        expect(refused.stderr).to.include(': 401 ');
      } finally {
        await gateway.close();
      }
    });

    it('uses the generated token when there is one', () => {
      const pod = find(render(), 'Pod');
      const env = (((pod.spec as Tree).containers as Tree[])[0].env as Tree[])[0];
      expect(env).to.deep.equal({ name: 'REGISTRY_GATEWAY_TOKEN', valueFrom: { secretKeyRef: { name: `${FULLNAME}-token`, key: 'token' } } });
    });
  });
});
