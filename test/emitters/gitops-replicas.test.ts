import { expect } from 'chai';
import { PostgresStore } from '../../src/delivery/store/postgres';
import type { DeliverySettings } from '../../src/delivery/types';
import { FluxEmitter } from '../../src/emitters/flux';
import { KARGO_PROJECT_LABEL, KargoEmitter } from '../../src/emitters/kargo';
import type { Emitter } from '../../src/emitters/types';
import { settings, tempDir } from '../delivery/support';
import { FakeGitOpsApi } from '../fakes/gitops-api';
import { requirePostgres, sharedPostgres } from '../helpers/postgres';
import { pushOf, SERVICE_ACCOUNT_TOKEN, tokenFile } from '../helpers/gitops';

/**
 * Two gateways sharing one PostgreSQL: each has its own emitter and its own store connection,
 * as two replicas do, and the store's shared windows are all that coordinates them.
 */
export function replicaSuite(
  name: string,
  build: (api: FakeGitOpsApi, store: PostgresStore) => Emitter,
  seed: (api: FakeGitOpsApi) => void,
  expectations: { image: string; patched: string[]; kind: 'ImageRepository' | 'Warehouse' },
): void {
  describe(`${name}: two replicas on one PostgreSQL`, function () {
    this.timeout(60_000);
    let databaseUrl = '';
    let schemas = 0;
    let api: FakeGitOpsApi;
    let stores: PostgresStore[];
    let emitters: Emitter[];

    const pgSettings = (): DeliverySettings => ({
      ...settings(tempDir().dir),
      store: 'postgres',
      postgres: { url: databaseUrl, poolSize: 4, schema: `${name}_windows_${++schemas}`, leaseSeconds: 60 },
    });

    before(async function () {
      requirePostgres(this);
      databaseUrl = await (await sharedPostgres()).createDatabase();
    });

    beforeEach(async () => {
      api = await FakeGitOpsApi.start(SERVICE_ACCOUNT_TOKEN);
      seed(api);
      const schema = pgSettings();
      stores = await Promise.all([PostgresStore.open(schema), PostgresStore.open(schema)]);
      emitters = stores.map((store) => build(api, store));
    });

    afterEach(async () => {
      for (const e of emitters) await e.close?.();
      for (const s of stores) await s.close();
      await api.close();
    });

    const patchedNames = () => api.patches.map((p) => p.path.split('/').slice(-3).join('/')).sort();

    it('patches each matching object once for pushes delivered by both replicas within one window', async () => {
      const versions = expectations.patched.map((key) => {
        const [ns, , object] = key.split('/');
        return api.object(expectations.kind, ns, object)!.metadata.resourceVersion;
      });
      await Promise.all([
        emitters[0].deliver(pushOf(expectations.image, { time: '2026-03-01T10:00:00Z' })),
        emitters[1].deliver(pushOf(expectations.image, { time: '2026-03-01T10:00:01Z' })),
        emitters[0].deliver(pushOf(expectations.image, { time: '2026-03-01T10:00:02Z' })),
      ]);
      expect(patchedNames()).to.deep.equal([...expectations.patched].sort());
      expectations.patched.forEach((key, i) => {
        const [ns, , object] = key.split('/');
        const after = api.object(expectations.kind, ns, object)!.metadata.resourceVersion;
        expect(Number(after)).to.be.greaterThan(Number(versions[i]));
      });
    });

    it('patches again for a push that came after the other replica had patched', async () => {
      await emitters[0].deliver(pushOf(expectations.image, { time: '2026-03-01T10:00:00Z' }));
      await emitters[1].deliver(pushOf(expectations.image, { time: '2026-03-01T10:05:00Z' }));
      expect(api.patches).to.have.length(2 * expectations.patched.length);
    });
  });
}

replicaSuite(
  'flux',
  (api, store) =>
    new FluxEmitter(
      { apiServer: api.url, tokenPath: tokenFile(), caPath: '', debounceSeconds: 0.5, namespaces: ['apps', 'other'] },
      { sharedWindows: store.sharedWindows },
    ),
  (api) => {
    api.add('ImageRepository', 'apps', 'web', { image: 'harbor.example.com/team/web', interval: '5m' });
    api.add('ImageRepository', 'other', 'web', { image: 'HARBOR.example.com/team/web', interval: '5m' });
    api.add('ImageRepository', 'apps', 'api', { image: 'harbor.example.com/team/api', interval: '5m' });
  },
  {
    image: 'harbor.example.com/team/web',
    patched: ['apps/imagerepositories/web', 'other/imagerepositories/web'],
    kind: 'ImageRepository',
  },
);

replicaSuite(
  'kargo',
  (api, store) =>
    new KargoEmitter(
      { apiServer: api.url, tokenPath: tokenFile(), caPath: '', debounceSeconds: 0.5 },
      { sharedWindows: store.sharedWindows },
    ),
  (api) => {
    api.add('Warehouse', 'shop', 'web', {
      interval: '5m0s',
      subscriptions: [{ image: { repoURL: 'ghcr.io/acme/web' } }],
    });
    api.add('Warehouse', 'shop', 'api', {
      interval: '5m0s',
      subscriptions: [{ image: { repoURL: 'ghcr.io/acme/api' } }],
    });
    api.namespaceLabels.set('shop', { [KARGO_PROJECT_LABEL]: 'true' });
  },
  { image: 'ghcr.io/acme/web', patched: ['shop/warehouses/web'], kind: 'Warehouse' },
);
