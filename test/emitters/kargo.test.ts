import { expect } from 'chai';
import { KARGO_PROJECT_LABEL, KARGO_REFRESH, KargoEmitter, type KargoSettings } from '../../src/emitters/kargo';
import { tagAllowed } from '../../src/emitters/kargo-subscriptions';
import { FakeGitOpsApi } from '../fakes/gitops-api';
import { deliveryError } from '../helpers/delivery';
import { pushOf, SERVICE_ACCOUNT_TOKEN, tokenFile } from '../helpers/gitops';
import { memoryLogger } from '../helpers/logger';

const image = (repoURL: string, rules: Record<string, unknown> = {}) => ({ image: { repoURL, ...rules } });

describe('kargo image subscription tag rules', () => {
  it('reads allowTagsRegexes and ignoreTagsRegexes (Kargo 1.11) unanchored, as Go does', () => {
    const rules = { allowTagsRegexes: ['^v\\d+\\.\\d+\\.\\d+$', '^release-'], ignoreTagsRegexes: ['-rc'] };
    expect(tagAllowed(rules, 'v1.2.3')).to.equal(true);
    expect(tagAllowed(rules, 'release-7')).to.equal(true);
    expect(tagAllowed(rules, 'latest')).to.equal(false);
    expect(tagAllowed({ ignoreTagsRegexes: ['-rc'] }, 'v2.0.0-rc1')).to.equal(false);
    expect(tagAllowed({ allowTagsRegexes: ['\\d'] }, 'v9')).to.equal(true);
  });

  it('still reads the deprecated allowTags (one regex) and ignoreTags (exact tags)', () => {
    expect(tagAllowed({ allowTags: '^v1\\.' }, 'v1.4.0')).to.equal(true);
    expect(tagAllowed({ allowTags: '^v1\\.' }, 'v2.0.0')).to.equal(false);
    expect(tagAllowed({ ignoreTags: ['latest'] }, 'latest')).to.equal(false);
    expect(tagAllowed({ ignoreTags: ['latest'] }, 'latest-1')).to.equal(true);
  });

  it('lets a push without a tag, or past a pattern JavaScript cannot read, through', () => {
    expect(tagAllowed({ allowTagsRegexes: ['^v'] }, undefined)).to.equal(true);
    expect(tagAllowed({ allowTagsRegexes: ['(?P<x>v)'] }, 'anything')).to.equal(true);
    expect(tagAllowed({ ignoreTagsRegexes: ['(?P<x>v)'] }, 'v1')).to.equal(true);
  });
});

describe('kargo emitter', () => {
  let api: FakeGitOpsApi;
  const emitters: KargoEmitter[] = [];

  function kargo(settings: KargoSettings = {}, log = memoryLogger()): KargoEmitter {
    const emitter = new KargoEmitter(
      { apiServer: api.url, tokenPath: tokenFile(), caPath: '', debounceSeconds: 0.2, ...settings },
      { logger: log.logger },
    );
    emitters.push(emitter);
    return emitter;
  }

  const refreshed = () => api.patches.map((p) => p.path.split('/').slice(-3).join('/')).sort();

  beforeEach(async () => {
    api = await FakeGitOpsApi.start(SERVICE_ACCOUNT_TOKEN);
    api.add('Warehouse', 'shop', 'web', {
      interval: '5m0s',
      subscriptions: [image('ghcr.io/acme/web', { allowTagsRegexes: ['^v\\d'] }), { git: { repoURL: 'https://x' } }],
    });
    api.add('Warehouse', 'shop', 'web-rc', {
      interval: '5m0s',
      subscriptions: [image('GHCR.io/acme/web', { allowTagsRegexes: ['-rc\\d+$'] })],
    });
    api.add('Warehouse', 'shop', 'api', { interval: '5m0s', subscriptions: [image('ghcr.io/acme/api')] });
    api.add('Warehouse', 'scratch', 'web', { interval: '5m0s', subscriptions: [image('ghcr.io/acme/web')] });
    api.namespaceLabels.set('shop', { [KARGO_PROJECT_LABEL]: 'true' });
  });

  afterEach(async () => {
    for (const e of emitters.splice(0)) await e.close();
    await api.close();
  });

  it('refreshes exactly the Warehouses of project namespaces whose subscription takes the pushed tag', async () => {
    const before = api.object('Warehouse', 'shop', 'web')!.metadata.resourceVersion;
    await kargo().deliver(pushOf('ghcr.io/acme/web', { tag: 'v1.0.0' }));
    expect(refreshed()).to.deep.equal(['shop/warehouses/web']);
    const after = api.object('Warehouse', 'shop', 'web')!;
    expect(after.metadata.resourceVersion).to.not.equal(before);
    const value = after.metadata.annotations![KARGO_REFRESH];
    expect(Date.parse(value)).to.be.closeTo(Date.now(), 60_000);
    expect(api.patches[0].contentType).to.equal('application/merge-patch+json');
  });

  it('reads the configured namespaces instead of the project label', async () => {
    await kargo({ namespaces: ['scratch', 'shop'] }).deliver(pushOf('ghcr.io/acme/web', { tag: '2.0.0-rc1' }));
    expect(refreshed()).to.deep.equal(['scratch/warehouses/web', 'shop/warehouses/web-rc']);
  });

  it('makes one patch per Warehouse per window with a fresh value each window', async () => {
    const emitter = kargo();
    await Promise.all([1, 2, 3].map((n) => emitter.deliver(pushOf('ghcr.io/acme/api', { tag: `v${n}` }))));
    expect(refreshed()).to.deep.equal(['shop/warehouses/api']);
    await emitter.deliver(pushOf('ghcr.io/acme/api', { tag: 'v4' }));
    const values = api.patches.map((p) => (p.body as { metadata: { annotations: Record<string, string> } }).metadata);
    expect(values).to.have.length(2);
    expect(values[0].annotations[KARGO_REFRESH]).to.not.equal(values[1].annotations[KARGO_REFRESH]);
  });

  it('is done, and says so, when no Warehouse takes the push', async () => {
    const log = memoryLogger();
    const emitter = kargo({}, log);
    await emitter.deliver(pushOf('ghcr.io/acme/web', { tag: 'nightly' }));
    expect(api.patches).to.deep.equal([]);
    expect(log.text()).to.include('no Warehouse subscribes to the image');
    const [preview] = await emitter.preview(pushOf('ghcr.io/acme/web', { tag: 'nightly' }));
    expect(preview.title).to.include('No Warehouse in any Kargo project namespace subscribes to ghcr.io/acme/web');
  });

  it('previews the exact patch without making it, the token hidden', async () => {
    const [request] = await kargo().preview(pushOf('ghcr.io/acme/api'));
    expect(request).to.include({
      method: 'PATCH',
      url: `${api.url}/apis/kargo.akuity.io/v1alpha1/namespaces/shop/warehouses/api`,
    });
    expect(Object.keys(JSON.parse(request.body!).metadata.annotations)).to.deep.equal([KARGO_REFRESH]);
    expect(JSON.stringify(request)).to.not.include(SERVICE_ACCOUNT_TOKEN);
    expect(api.patches).to.deep.equal([]);
  });

  it('dead-letters a 403, naming the RBAC verb and resource', async () => {
    api.forbid('patch', 'shop');
    const err = await deliveryError(kargo().deliver(pushOf('ghcr.io/acme/api')));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.include(
      'needs the RBAC verb "patch" on resource "warehouses" in API group "kargo.akuity.io"',
    );
  });

  it('takes pushes of repositories only', () => {
    const emitter = kargo();
    expect(emitter.accepts(pushOf('ghcr.io/acme/api'))).to.equal(true);
    expect(emitter.accepts(pushOf('ghcr.io/acme/api', { type: 'delete' }))).to.equal(false);
  });
});
