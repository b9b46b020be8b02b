import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { FakeGitOpsApi } from '../fakes/gitops-api';
import { cleanupAfterEach, GatewayProcess, REPO_ROOT, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';
import { requirePostgres, sharedPostgres } from '../helpers/postgres';

type Tree = Record<string, any>;

const SA_TOKEN = 'sa-token-e2e-gitops-2f6a9d';

/** The first yaml block of a docs page: the configuration a user copies. */
function docsConfig(page: string): Tree {
  const text = readFileSync(path.join(REPO_ROOT, 'docs', 'targets', page), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(text);
  if (!block) throw new Error(`docs/targets/${page} shows no yaml configuration`);
  return parse(block[1]) as Tree;
}

function example(...parts: string[]): Tree {
  return parse(readFileSync(path.join(REPO_ROOT, 'examples', ...parts), 'utf8').split('\n---\n')[0]) as Tree;
}

const acrPush = (id: string, tag: string): Tree => {
  const body = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'), 'utf8'));
  return { ...body, id, target: { ...body.target, tag } };
};

/**
 * Each target's docs page configuration through two real gateway processes on one PostgreSQL:
 * only the addresses (port, store, API server, token file) change; every other key is the
 * page's own. The fake API serves the example objects beside others that must stay untouched.
 */
describe('e2e: the flux and kargo targets as their docs pages configure them, two replicas', function () {
  this.timeout(120_000);
  const cleanup = { push: cleanupAfterEach() };
  let databaseUrl: string;
  let schemas = 0;

  before(async function () {
    requirePostgres(this);
    databaseUrl = await (await sharedPostgres()).createDatabase();
  });

  async function twoReplicas(
    page: string,
    key: 'flux' | 'kargo',
    api: FakeGitOpsApi,
  ): Promise<[GatewayProcess, GatewayProcess, Tree]> {
    const dir = tempDir();
    const tokenPath = path.join(dir, 'sa-token');
    writeFileSync(tokenPath, SA_TOKEN);
    const config = docsConfig(page);
    Object.assign(config.emitters[key], { apiServer: api.url, tokenPath, caPath: '' });
    config.server = { port: '$PORT' };
    config.delivery = { store: 'postgres', postgres: { schema: `gitops_${process.pid}_${++schemas}` } };
    const yaml = stringify(config);
    const gateways = await Promise.all(
      [1, 2].map(() => GatewayProcess.start(yaml, { dir: tempDir(), env: { DATABASE_URL: databaseUrl } })),
    );
    for (const gw of gateways) cleanup.push(() => gw.kill9());
    return [gateways[0], gateways[1], config];
  }

  async function pushToBoth(gateways: GatewayProcess[], config: Tree): Promise<void> {
    const auth = { Authorization: `Bearer ${config.tokens['acr-prod'].value}` };
    const answers = await Promise.all([
      post(`${gateways[0].url}/events`, acrPush('9a0c5a1e-0000-4000-8000-000000000001', 'v1.4.2'), auth),
      post(`${gateways[1].url}/events`, acrPush('9a0c5a1e-0000-4000-8000-000000000002', 'v1.4.3'), auth),
    ]);
    for (const answer of answers) expect(answer.status, JSON.stringify(answer.data)).to.equal(202);
  }

  async function delivered(gateways: GatewayProcess[], emitter: string): Promise<void> {
    await waitFor(`both deliveries to ${emitter} to succeed`, async () => {
      let total = 0;
      for (const gw of gateways) {
        const text = (await axios.get<string>(`${gw.url}/metrics`, { responseType: 'text' })).data;
        const line = new RegExp(`emitter="${emitter}",outcome="succeeded"} (\\d+)`).exec(text);
        total += line ? Number(line[1]) : 0;
      }
      return total === 2;
    });
  }

  it('flux: one patch of the example ImageRepository for two pushes taken by two replicas', async () => {
    const api = await FakeGitOpsApi.start(SA_TOKEN);
    cleanup.push(() => api.close());
    const repository = example('flux', 'image-repository.yaml');
    api.add('ImageRepository', repository.metadata.namespace, repository.metadata.name, repository.spec);
    api.add('ImageRepository', 'apps', 'api', { image: 'myregistry.azurecr.io/team/api', interval: '1h' });
    api.add('ImageRepository', 'elsewhere', 'web', { image: 'myregistry.azurecr.io/team/web', interval: '1h' });
    const [a, b, config] = await twoReplicas('flux.md', 'flux', api);
    expect(config.emitters.flux.namespaces).to.include(repository.metadata.namespace);

    await pushToBoth([a, b], config);
    await delivered([a, b], 'flux');
    expect(api.patches.map((p) => p.path)).to.deep.equal([
      '/apis/image.toolkit.fluxcd.io/v1/namespaces/apps/imagerepositories/web',
    ]);
    const annotations = api.object('ImageRepository', 'apps', 'web')!.metadata.annotations!;
    expect(Date.parse(annotations['reconcile.fluxcd.io/requestedAt'])).to.be.a('number').and.not.NaN;
    expect(a.stderr + b.stderr).to.not.include(SA_TOKEN);
  });

  it('kargo: one patch of the example Warehouse for two pushes taken by two replicas', async () => {
    const api = await FakeGitOpsApi.start(SA_TOKEN);
    cleanup.push(() => api.close());
    const warehouse = example('kargo', 'warehouse.yaml');
    api.add('Warehouse', warehouse.metadata.namespace, warehouse.metadata.name, warehouse.spec);
    api.add('Warehouse', 'shop', 'api', {
      interval: '1h0m0s',
      subscriptions: [{ image: { repoURL: 'myregistry.azurecr.io/team/api' } }],
    });
    api.add('Warehouse', 'not-a-project', 'web', {
      interval: '1h0m0s',
      subscriptions: [{ image: { repoURL: 'myregistry.azurecr.io/team/web' } }],
    });
    api.namespaceLabels.set('shop', { 'kargo.akuity.io/project': 'true' });
    const [a, b, config] = await twoReplicas('kargo.md', 'kargo', api);

    await pushToBoth([a, b], config);
    await delivered([a, b], 'kargo');
    expect(api.patches.map((p) => p.path)).to.deep.equal([
      '/apis/kargo.akuity.io/v1alpha1/namespaces/shop/warehouses/web',
    ]);
    expect(api.object('Warehouse', 'shop', 'web')!.metadata.annotations).to.have.property('kargo.akuity.io/refresh');
  });
});
