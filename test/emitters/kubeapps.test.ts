import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Joi from 'joi';
import pino from 'pino';
import {
  KubeappsEmitter,
  kubeappsEmitterPlugin,
  type KubeappsSection,
  type KubeappsSettings,
} from '../../src/emitters/kubeapps';
import { appRepositoriesFor, ruleMatches, type AppRepositoryRule } from '../../src/emitters/kubeapps-rules';
import { inClusterApiServer, KubernetesClient } from '../../src/emitters/kubernetes-client';
import type { EventType, RegistryEvent } from '../../src/model/event';
import { FakeKubeappsApi } from '../fakes/kubeapps-api';
import { FakeKubernetesApi } from '../fakes/kubernetes-api';
import { deliveryError } from '../helpers/delivery';
import { memoryLogger } from '../helpers/logger';

const KUBEAPPS_TOKEN = 'kubeapps-token-9f8e7d';
const SERVICE_ACCOUNT_TOKEN = 'service-account-token-1a2b3c';

function registryEvent(overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  return {
    id: `event-${Math.random().toString(36).slice(2)}`,
    provider: 'acr',
    source: 'brigade.sh/acr',
    type: 'chart_push',
    registry: 'myregistry.azurecr.io',
    repo: 'helm/nginx',
    tag: '1.2.3',
    time: '2023-06-01T10:00:00Z',
    payload: { action: 'chart_push' },
    ...overrides,
  };
}

const acrOciRule: AppRepositoryRule = {
  registry: 'myregistry.azurecr.io',
  prefix: 'helm',
  ociRepositories: ['nginx', 'redis'],
  cluster: 'default',
  namespace: 'kubeapps',
  name: 'acr-charts',
};

const harborRule: AppRepositoryRule = {
  registry: 'harbor.example.com',
  prefix: 'charts/',
  cluster: 'default',
  namespace: 'kubeapps',
  name: 'harbor-charts',
};

async function refusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('Kubeapps AppRepository rules', () => {
  it('matches on registry and repository prefix', () => {
    expect(ruleMatches(harborRule, registryEvent({ registry: 'harbor.example.com', repo: 'charts/nginx' }))).to.equal(
      true,
    );
    expect(ruleMatches(harborRule, registryEvent({ registry: 'other.example.com', repo: 'charts/nginx' }))).to.equal(
      false,
    );
    expect(ruleMatches(harborRule, registryEvent({ registry: 'harbor.example.com', repo: 'library/nginx' }))).to.equal(
      false,
    );
  });

  it('compares the registry without regard to case', () => {
    const rule = { ...harborRule, registry: 'Harbor.Example.com' };
    expect(ruleMatches(rule, registryEvent({ registry: 'harbor.example.com', repo: 'charts/x' }))).to.equal(true);
  });

  it('with ociRepositories, matches only the listed names below the prefix', () => {
    const event = (repo: string) => registryEvent({ repo });
    expect(ruleMatches(acrOciRule, event('helm/nginx'))).to.equal(true);
    expect(ruleMatches(acrOciRule, event('helm/redis'))).to.equal(true);
    expect(ruleMatches(acrOciRule, event('helm/mysql'))).to.equal(false);
    expect(ruleMatches(acrOciRule, event('helm/nginx/extra'))).to.equal(false);
    expect(ruleMatches({ ...acrOciRule, prefix: 'helm/' }, event('helm/nginx'))).to.equal(true);
    expect(ruleMatches({ ...acrOciRule, prefix: '' }, event('nginx'))).to.equal(true);
  });

  it('never matches an event without a repository', () => {
    expect(
      ruleMatches({ ...harborRule, prefix: '' }, registryEvent({ registry: 'harbor.example.com', repo: undefined })),
    ).to.equal(false);
  });

  it('considers only push, delete, chart_push and chart_delete', () => {
    const wanted: EventType[] = ['push', 'delete', 'chart_push', 'chart_delete'];
    const unwanted: EventType[] = [
      'pull',
      'chart_pull',
      'quarantine',
      'scan_completed',
      'quota_exceeded',
      'replication',
    ];
    for (const type of wanted)
      expect(appRepositoriesFor([acrOciRule], registryEvent({ type })), type).to.have.length(1);
    for (const type of unwanted)
      expect(appRepositoriesFor([acrOciRule], registryEvent({ type })), type).to.have.length(0);
  });

  it('names each AppRepository once, however many rules point at it', () => {
    const twice = [acrOciRule, { ...acrOciRule, ociRepositories: undefined }];
    expect(appRepositoriesFor(twice, registryEvent())).to.deep.equal([
      { cluster: 'default', namespace: 'kubeapps', name: 'acr-charts' },
    ]);
  });

  it('lets the emitter accept exactly the events a rule matches', async () => {
    const emitter = new KubeappsEmitter({
      repositories: [{ ...acrOciRule, registry: 'MyRegistry.azurecr.io' }],
      address: 'http://127.0.0.1:1',
      token: KUBEAPPS_TOKEN,
    });
    expect(emitter.accepts(registryEvent())).to.equal(true);
    expect(emitter.accepts(registryEvent({ type: 'push' }))).to.equal(true);
    expect(emitter.accepts(registryEvent({ type: 'pull' }))).to.equal(false);
    expect(emitter.accepts(registryEvent({ repo: 'helm/mysql' }))).to.equal(false);
    expect(emitter.accepts(registryEvent({ registry: 'other.azurecr.io' }))).to.equal(false);
    await emitter.close();
  });
});

describe('KubeappsEmitter', () => {
  let emitter: KubeappsEmitter | undefined;

  afterEach(async () => {
    await emitter?.close();
    emitter = undefined;
  });

  describe('endpoint mode (Kubeapps 2.1–2.4)', () => {
    let kubeapps: FakeKubeappsApi;

    beforeEach(async () => {
      kubeapps = await FakeKubeappsApi.start({ token: KUBEAPPS_TOKEN, forbiddenTokens: ['read-only-token'] });
      kubeapps.addAppRepository('default', 'kubeapps', 'acr-charts');
    });

    afterEach(() => kubeapps.close());

    const endpointEmitter = (settings: Partial<KubeappsSettings> = {}, logger?: pino.Logger) =>
      new KubeappsEmitter(
        { repositories: [acrOciRule], address: kubeapps.url, token: KUBEAPPS_TOKEN, debounceSeconds: 0, ...settings },
        { logger },
      );

    it('posts to the refresh endpoint with the token as Bearer', async () => {
      emitter = endpointEmitter();
      await emitter.deliver(registryEvent());

      expect(kubeapps.requests).to.have.length(1);
      expect(kubeapps.requests[0]).to.deep.include({
        method: 'POST',
        path: '/api/v1/clusters/default/namespaces/kubeapps/apprepositories/acr-charts/refresh',
        authorization: `Bearer ${KUBEAPPS_TOKEN}`,
        status: 200,
      });
      expect(kubeapps.resyncRequests('default', 'kubeapps', 'acr-charts')).to.equal(1);
    });

    it('uses the rule cluster and tolerates a trailing slash on the address', async () => {
      kubeapps.addAppRepository('edge-cluster', 'kubeapps', 'acr-charts');
      emitter = endpointEmitter({
        address: `${kubeapps.url}/`,
        repositories: [{ ...acrOciRule, cluster: 'edge-cluster' }],
      });
      await emitter.deliver(registryEvent());
      expect(kubeapps.refreshes.map((r) => r.cluster)).to.deep.equal(['edge-cluster']);
    });

    it('does nothing for an event no rule matches', async () => {
      emitter = endpointEmitter();
      await emitter.deliver(registryEvent({ repo: 'helm/mysql' }));
      expect(kubeapps.requests).to.have.length(0);
    });

    it('gives up on 401 without the token in the error or the log', async () => {
      const { logger, lines } = memoryLogger('debug');
      const wrongToken = 'expired-token-5e6f';
      emitter = endpointEmitter({ token: wrongToken }, logger);
      const err = await deliveryError(emitter.deliver(registryEvent()));

      expect(err).to.include({ retryable: false, status: 401 });
      expect(err.message).to.match(/Unauthorized/);
      expect(err.message).to.not.include(wrongToken);
      expect(lines().join('')).to.not.include(wrongToken);
      expect(lines().join('')).to.include('AppRepository refresh failed');
    });

    it('gives up on 403 (no RBAC rights on AppRepositories)', async () => {
      emitter = endpointEmitter({ token: 'read-only-token' });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 403 });
      expect(err.message)
        .to.match(/Forbidden/)
        .and.to.match(/kubeapps\/acr-charts/);
    });

    it('gives up on 404 (no such AppRepository)', async () => {
      emitter = endpointEmitter({ repositories: [{ ...acrOciRule, name: 'missing' }] });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 404 });
      expect(err.message).to.match(/not found/);
    });

    for (const status of [429, 500, 503]) {
      it(`retries on ${status}`, async () => {
        kubeapps.failNext(status);
        emitter = endpointEmitter();
        const err = await deliveryError(emitter.deliver(registryEvent()));
        expect(err).to.include({ retryable: true, status });
      });
    }

    it('retries when Kubeapps cannot be reached', async () => {
      emitter = endpointEmitter({ address: `http://127.0.0.1:${await refusedPort()}` });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err.retryable).to.equal(true);
      expect(err.message)
        .to.match(/ECONNREFUSED/)
        .and.not.to.include(KUBEAPPS_TOKEN);
    });

    it('refuses to be built without address or token', () => {
      expect(() => new KubeappsEmitter({ repositories: [acrOciRule], address: kubeapps.url })).to.throw(/token/);
    });
  });

  describe('kubernetes mode (every Kubeapps version)', () => {
    let kubernetes: FakeKubernetesApi;
    let credentials: string;
    let tokenPath: string;

    beforeEach(async () => {
      kubernetes = await FakeKubernetesApi.start({ token: SERVICE_ACCOUNT_TOKEN });
      kubernetes.addAppRepository('kubeapps', 'acr-charts', { type: 'oci', resyncRequests: 3 });
      credentials = mkdtempSync(path.join(os.tmpdir(), 'kubeapps-emitter-'));
      tokenPath = path.join(credentials, 'token');
      writeFileSync(tokenPath, `${SERVICE_ACCOUNT_TOKEN}\n`);
    });

    afterEach(async () => {
      await kubernetes.close();
      rmSync(credentials, { recursive: true, force: true });
    });

    const kubernetesEmitter = (settings: Partial<KubeappsSettings> = {}) =>
      new KubeappsEmitter({
        mode: 'kubernetes',
        repositories: [acrOciRule],
        apiServer: kubernetes.url,
        tokenPath,
        debounceSeconds: 0,
        ...settings,
      });

    it('increments spec.resyncRequests, writing back the resourceVersion it read', async () => {
      const before = kubernetes.appRepository('kubeapps', 'acr-charts')!;
      emitter = kubernetesEmitter();
      await emitter.deliver(registryEvent());

      expect(kubernetes.requests.map((r) => [r.method, r.status])).to.deep.equal([
        ['GET', 200],
        ['PUT', 200],
      ]);
      const put = kubernetes.requests[1];
      expect(put.path).to.equal('/apis/kubeapps.com/v1alpha1/namespaces/kubeapps/apprepositories/acr-charts');
      expect(put.authorization).to.equal(`Bearer ${SERVICE_ACCOUNT_TOKEN}`);
      expect(put.body).to.deep.include({ apiVersion: 'kubeapps.com/v1alpha1', kind: 'AppRepository' });
      const written = put.body as { metadata: { resourceVersion: string }; spec: Record<string, unknown> };
      expect(written.metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
      expect(written.spec).to.deep.equal({ ...before.spec, resyncRequests: 4 });

      const after = kubernetes.appRepository('kubeapps', 'acr-charts')!;
      expect(after.spec.resyncRequests).to.equal(4);
      expect(after.metadata.resourceVersion).to.not.equal(before.metadata.resourceVersion);
    });

    it('starts resyncRequests at 1 on an AppRepository that never had one', async () => {
      kubernetes.addAppRepository('kubeapps', 'fresh', { type: 'helm' });
      emitter = kubernetesEmitter({ repositories: [{ ...acrOciRule, name: 'fresh' }] });
      await emitter.deliver(registryEvent());
      expect(kubernetes.appRepository('kubeapps', 'fresh')!.spec.resyncRequests).to.equal(1);
    });

    it('reads again and retries after a 409 Conflict, keeping the other writer’s change', async () => {
      kubernetes.concurrentUpdates(1);
      emitter = kubernetesEmitter();
      await emitter.deliver(registryEvent());

      expect(kubernetes.requests.map((r) => [r.method, r.status])).to.deep.equal([
        ['GET', 200],
        ['PUT', 409],
        ['GET', 200],
        ['PUT', 200],
      ]);
      // 3 to start with, 1 from the concurrent writer, 1 from us: nothing overwritten.
      expect(kubernetes.appRepository('kubeapps', 'acr-charts')!.spec.resyncRequests).to.equal(5);
    });

    it('leaves a conflict that keeps happening to the delivery retries (retryable 409)', async () => {
      kubernetes.concurrentUpdates(100);
      emitter = kubernetesEmitter();
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: true, status: 409 });
      const puts = kubernetes.requests.filter((r) => r.method === 'PUT');
      expect(puts.length).to.be.within(2, 10);
      expect(puts.every((r) => r.status === 409)).to.equal(true);
    });

    it('gives up on 401 when the service-account token is not accepted', async () => {
      writeFileSync(tokenPath, 'some-other-token');
      emitter = kubernetesEmitter();
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 401 });
      expect(err.message).to.not.include('some-other-token');
    });

    it('reads the token again for each refresh, as the kubelet rotates it', async () => {
      writeFileSync(tokenPath, 'stale-token');
      emitter = kubernetesEmitter();
      await deliveryError(emitter.deliver(registryEvent()));
      writeFileSync(tokenPath, SERVICE_ACCOUNT_TOKEN);
      await emitter.deliver(registryEvent());
      expect(kubernetes.appRepository('kubeapps', 'acr-charts')!.spec.resyncRequests).to.equal(4);
    });

    it('gives up on 403 (no RBAC grant in the namespace)', async () => {
      kubernetes.forbid('kubeapps');
      emitter = kubernetesEmitter();
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 403 });
      expect(err.message).to.match(/forbidden/);
    });

    it('gives up on 404 (no such AppRepository)', async () => {
      emitter = kubernetesEmitter({ repositories: [{ ...acrOciRule, name: 'missing' }] });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 404 });
    });

    it('retries on a 503 from the API server', async () => {
      kubernetes.failNext(503);
      emitter = kubernetesEmitter();
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: true, status: 503 });
    });

    it('gives up, naming the path, when the token file cannot be read', async () => {
      emitter = kubernetesEmitter({ tokenPath: path.join(credentials, 'absent') });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err.retryable).to.equal(false);
      expect(err.message).to.include(path.join(credentials, 'absent'));
    });

    it('retries when the API server cannot be reached', async () => {
      emitter = kubernetesEmitter({ apiServer: `http://127.0.0.1:${await refusedPort()}` });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err.retryable).to.equal(true);
    });
  });

  describe('kubernetes mode over TLS', () => {
    let kubernetes: FakeKubernetesApi;
    let credentials: string;

    before(function () {
      try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
      } catch {
        this.skip();
      }
    });

    beforeEach(async () => {
      credentials = mkdtempSync(path.join(os.tmpdir(), 'kubeapps-emitter-tls-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          path.join(credentials, 'tls.key'),
          '-out',
          path.join(credentials, 'ca.crt'),
        ],
        { stdio: 'ignore' },
      );
      writeFileSync(path.join(credentials, 'token'), SERVICE_ACCOUNT_TOKEN);
      kubernetes = await FakeKubernetesApi.start({
        token: SERVICE_ACCOUNT_TOKEN,
        tls: {
          key: readFileSync(path.join(credentials, 'tls.key')),
          cert: readFileSync(path.join(credentials, 'ca.crt')),
        },
      });
      kubernetes.addAppRepository('kubeapps', 'acr-charts');
    });

    afterEach(async () => {
      await kubernetes.close();
      rmSync(credentials, { recursive: true, force: true });
    });

    const tlsEmitter = (settings: Partial<KubeappsSettings>) =>
      new KubeappsEmitter({
        mode: 'kubernetes',
        repositories: [acrOciRule],
        apiServer: kubernetes.url,
        tokenPath: path.join(credentials, 'token'),
        debounceSeconds: 0,
        ...settings,
      });

    it('trusts the API server through the service-account CA file', async () => {
      emitter = tlsEmitter({ caPath: path.join(credentials, 'ca.crt') });
      await emitter.deliver(registryEvent());
      expect(kubernetes.appRepository('kubeapps', 'acr-charts')!.spec.resyncRequests).to.equal(1);
    });

    it('refuses an API server certificate it cannot verify', async () => {
      emitter = tlsEmitter({ caPath: path.join(credentials, 'absent.crt') });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err.message).to.match(/certificate/i);
      expect(kubernetes.requests).to.have.length(0);
    });

    it('skips verification only when told to', async () => {
      emitter = tlsEmitter({ caPath: path.join(credentials, 'absent.crt'), insecureSkipTLSVerify: true });
      await emitter.deliver(registryEvent());
      expect(kubernetes.appRepository('kubeapps', 'acr-charts')!.spec.resyncRequests).to.equal(1);
    });
  });

  describe('in-cluster defaults', () => {
    it('finds the API server from the service environment variables', () => {
      expect(inClusterApiServer({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).to.equal(
        'https://10.96.0.1:443',
      );
      expect(inClusterApiServer({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' })).to.equal(
        'https://[fd00::1]:443',
      );
      expect(inClusterApiServer({})).to.equal(undefined);
    });

    it('refuses to start in kubernetes mode with no API server to talk to', () => {
      expect(() => new KubernetesClient({}, {})).to.throw(/KUBERNETES_SERVICE_HOST/);
      expect(() => new KubeappsEmitter({ mode: 'kubernetes', repositories: [acrOciRule] }, {}, {})).to.throw(
        /apiServer/,
      );
    });
  });

  describe('debouncing per AppRepository', () => {
    let kubeapps: FakeKubeappsApi;

    beforeEach(async () => {
      kubeapps = await FakeKubeappsApi.start({ token: KUBEAPPS_TOKEN });
      kubeapps.addAppRepository('default', 'kubeapps', 'acr-charts');
      kubeapps.addAppRepository('default', 'kubeapps', 'harbor-charts');
    });

    afterEach(() => kubeapps.close());

    const debouncingEmitter = (debounceSeconds: number) =>
      new KubeappsEmitter({
        repositories: [acrOciRule, harborRule],
        address: kubeapps.url,
        token: KUBEAPPS_TOKEN,
        debounceSeconds,
      });

    it('makes one refresh, at the end of the window, of several deliveries within it', async () => {
      emitter = debouncingEmitter(0.2);
      const first = emitter.deliver(registryEvent({ repo: 'helm/nginx' }));
      await nextTurn();
      expect(kubeapps.requests, 'no refresh before the window ends').to.have.length(0);
      const later = [
        emitter.deliver(registryEvent({ repo: 'helm/redis' })),
        emitter.deliver(registryEvent({ repo: 'helm/nginx', type: 'chart_delete' })),
      ];
      await Promise.all([first, ...later]);

      expect(kubeapps.refreshes).to.have.length(1);
      expect(kubeapps.resyncRequests('default', 'kubeapps', 'acr-charts')).to.equal(1);
    });

    it('makes a second refresh for deliveries after the window', async () => {
      emitter = debouncingEmitter(0.2);
      await Promise.all([emitter.deliver(registryEvent()), emitter.deliver(registryEvent())]);
      await Promise.all([emitter.deliver(registryEvent()), emitter.deliver(registryEvent())]);
      expect(kubeapps.refreshes).to.have.length(2);
    });

    it('keeps separate windows for separate AppRepositories', async () => {
      emitter = debouncingEmitter(0.2);
      await Promise.all([
        emitter.deliver(registryEvent({ repo: 'helm/nginx' })),
        emitter.deliver(registryEvent({ registry: 'harbor.example.com', repo: 'charts/redis' })),
        emitter.deliver(registryEvent({ registry: 'harbor.example.com', repo: 'charts/mysql' })),
      ]);
      expect(kubeapps.refreshes.map((r) => r.name).sort()).to.deep.equal(['acr-charts', 'harbor-charts']);
    });

    it('fails every joined delivery with the one refresh’s failure', async () => {
      kubeapps.failNext(503);
      emitter = debouncingEmitter(0.2);
      const errors = await Promise.all([
        deliveryError(emitter.deliver(registryEvent())),
        deliveryError(emitter.deliver(registryEvent())),
        deliveryError(emitter.deliver(registryEvent())),
      ]);
      expect(kubeapps.requests).to.have.length(1);
      for (const err of errors) expect(err).to.include({ retryable: true, status: 503 });
    });

    it('runs the refreshes still waiting in a window when closed', async () => {
      emitter = debouncingEmitter(3600);
      const waiting = emitter.deliver(registryEvent());
      await nextTurn();
      await emitter.close();
      await waiting;
      expect(kubeapps.refreshes).to.have.length(1);
      emitter = undefined;
    });

    it('fails an event matching two AppRepositories when either refresh fails', async () => {
      emitter = new KubeappsEmitter({
        repositories: [acrOciRule, { ...acrOciRule, name: 'missing' }],
        address: kubeapps.url,
        token: KUBEAPPS_TOKEN,
        debounceSeconds: 0,
      });
      const err = await deliveryError(emitter.deliver(registryEvent()));
      expect(err).to.include({ retryable: false, status: 404 });
      expect(kubeapps.refreshes.map((r) => r.name)).to.deep.equal(['acr-charts']);
    });
  });

  describe('plugin settings', () => {
    const section = Joi.object({
      enabled: Joi.boolean().default(kubeappsEmitterPlugin.enabledByDefault),
      filter: Joi.object().default({}),
      ...kubeappsEmitterPlugin.settings,
    });
    const rule = { registry: 'myregistry.azurecr.io', prefix: 'helm/', namespace: 'kubeapps', name: 'acr-charts' };

    it('is off by default, in endpoint mode with a 10 s debounce and in-cluster credentials', () => {
      const { value, error } = section.validate({});
      expect(error).to.equal(undefined);
      expect(value).to.deep.equal({
        enabled: false,
        filter: {},
        mode: 'endpoint',
        address: '',
        token: '',
        debounceSeconds: 10,
        repositories: [],
        apiServer: '',
        tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        caPath: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        insecureSkipTLSVerify: false,
        timeoutSeconds: 10,
      });
    });

    it('defaults a rule to the default cluster and an empty prefix', () => {
      const { value } = section.validate({
        repositories: [{ registry: 'r.example.com', namespace: 'kubeapps', name: 'x' }],
      });
      expect(value.repositories).to.deep.equal([
        { registry: 'r.example.com', prefix: '', cluster: 'default', namespace: 'kubeapps', name: 'x' },
      ]);
    });

    it('needs address, token and at least one rule when enabled in endpoint mode', () => {
      const { error } = section.validate({ enabled: true, address: '', repositories: [] }, { abortEarly: false });
      const messages = error?.details.map((d) => d.message).join('\n');
      expect(messages).to.match(/"address" is required/);
      expect(messages).to.match(/"token" is required/);
      expect(messages).to.match(/"repositories" must list at least one/);
    });

    it('needs neither address nor token in kubernetes mode', () => {
      const { error } = section.validate({ enabled: true, mode: 'kubernetes', repositories: [rule] });
      expect(error).to.equal(undefined);
    });

    it('refuses a rule without namespace or with a name Kubernetes would not accept', () => {
      expect(section.validate({ repositories: [{ registry: 'r', name: 'x' }] }).error?.message).to.match(/namespace/);
      expect(section.validate({ repositories: [{ ...rule, name: 'Acr_Charts' }] }).error?.message).to.match(
        /Kubernetes name/,
      );
    });

    it('creates a working emitter named kubeapps from a validated section', async () => {
      const kubeapps = await FakeKubeappsApi.start({ token: KUBEAPPS_TOKEN });
      try {
        kubeapps.addAppRepository('default', 'kubeapps', 'acr-charts');
        const { value, error } = section.validate({
          enabled: true,
          address: kubeapps.url,
          token: KUBEAPPS_TOKEN,
          debounceSeconds: 0,
          repositories: [rule],
        });
        expect(error).to.equal(undefined);
        emitter = kubeappsEmitterPlugin.create(value as KubeappsSection, {
          logger: pino({ level: 'silent' }),
        }) as KubeappsEmitter;
        expect(emitter.name).to.equal('kubeapps');
        await emitter.deliver(registryEvent());
        expect(kubeapps.refreshes).to.have.length(1);
      } finally {
        await emitter?.close();
        emitter = undefined;
        await kubeapps.close();
      }
    });
  });
});
