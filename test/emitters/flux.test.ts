import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { FLUX_REQUESTED_AT, FluxEmitter, type FluxSettings } from '../../src/emitters/flux';
import { normalisedRepository } from '../../src/emitters/image-reference';
import { FakeGitOpsApi } from '../fakes/gitops-api';
import { pushOf, SERVICE_ACCOUNT_TOKEN, tokenFile } from '../helpers/gitops';
import { readBody } from '../fakes/kubernetes-api';
import { deliveryError } from '../helpers/delivery';
import { memoryLogger } from '../helpers/logger';

describe('image repository names as Flux and Kargo compare them', () => {
  const cases: [string, string][] = [
    ['nginx', 'docker.io/library/nginx'],
    ['nginx:1.27', 'docker.io/library/nginx'],
    ['me/app', 'docker.io/me/app'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['Docker.IO/nginx', 'docker.io/library/nginx'],
    ['GHCR.io/acme/app:v1', 'ghcr.io/acme/app'],
    ['localhost:5000/app@sha256:' + 'a'.repeat(64), 'localhost:5000/app'],
    ['harbor.example.com:8443/team/app:1.0', 'harbor.example.com:8443/team/app'],
  ];
  for (const [given, expected] of cases) {
    it(`reads ${given} as ${expected}`, () => expect(normalisedRepository(given)).to.equal(expected));
  }
});

describe('flux emitter (kubernetes mode)', () => {
  let api: FakeGitOpsApi;
  const emitters: FluxEmitter[] = [];

  function flux(settings: FluxSettings = {}, log = memoryLogger()): FluxEmitter {
    const emitter = new FluxEmitter(
      { apiServer: api.url, tokenPath: tokenFile(), caPath: '', debounceSeconds: 0.2, ...settings },
      { logger: log.logger },
    );
    emitters.push(emitter);
    return emitter;
  }

  beforeEach(async () => {
    api = await FakeGitOpsApi.start(SERVICE_ACCOUNT_TOKEN);
    api.add('ImageRepository', 'apps', 'web', { image: 'harbor.example.com/team/web', interval: '5m' });
    api.add('ImageRepository', 'apps', 'web-copy', { image: 'HARBOR.example.com/team/web', interval: '1h' });
    api.add('ImageRepository', 'apps', 'api', { image: 'harbor.example.com/team/api', interval: '5m' });
    api.add('ImageRepository', 'other', 'web', { image: 'harbor.example.com/team/web', interval: '5m' });
    api.add('ImageRepository', 'hub', 'nginx', { image: 'nginx', interval: '5m' });
  });

  afterEach(async () => {
    for (const e of emitters.splice(0)) await e.close();
    await api.close();
  });

  it('patches exactly the ImageRepositories of the pushed image in the listed namespaces, once each', async () => {
    const before = api.object('ImageRepository', 'apps', 'web')!.metadata.resourceVersion;
    await flux({ namespaces: ['apps', 'hub'] }).deliver(pushOf('harbor.example.com/team/web'));
    expect(api.patches.map((p) => p.path).sort()).to.deep.equal([
      '/apis/image.toolkit.fluxcd.io/v1/namespaces/apps/imagerepositories/web',
      '/apis/image.toolkit.fluxcd.io/v1/namespaces/apps/imagerepositories/web-copy',
    ]);
    for (const patch of api.patches) {
      expect(patch.contentType).to.equal('application/merge-patch+json');
      expect(patch.body).to.deep.equal({ metadata: { annotations: { [FLUX_REQUESTED_AT]: '2026-03-01T10:00:00Z' } } });
    }
    const after = api.object('ImageRepository', 'apps', 'web')!;
    expect(after.metadata.resourceVersion).to.not.equal(before);
    expect(after.metadata.annotations).to.deep.equal({ [FLUX_REQUESTED_AT]: '2026-03-01T10:00:00Z' });
  });

  it('lists the whole cluster when no namespace is configured, following continue tokens', async () => {
    await flux().deliver(pushOf('harbor.example.com/team/web'));
    expect(api.patches).to.have.length(3);
    const lists = api.requests.filter((r) => r.path === '/apis/image.toolkit.fluxcd.io/v1/imagerepositories');
    expect(lists.length).to.be.greaterThan(1);
  });

  it('matches a Docker Hub push against a bare image name', async () => {
    await flux().deliver(pushOf('docker.io/library/nginx', { provider: 'dockerhub' }));
    expect(api.patches.map((p) => p.path)).to.deep.equal([
      '/apis/image.toolkit.fluxcd.io/v1/namespaces/hub/imagerepositories/nginx',
    ]);
  });

  it('uses v1beta2 where the API serves no v1', async () => {
    api.versions.set('image.toolkit.fluxcd.io', ['v1beta2']);
    await flux({ namespaces: ['hub'] }).deliver(pushOf('docker.io/nginx'));
    expect(api.patches.map((p) => p.path)).to.deep.equal([
      '/apis/image.toolkit.fluxcd.io/v1beta2/namespaces/hub/imagerepositories/nginx',
    ]);
  });

  it('makes one patch per object for pushes within one window, naming the newest push', async () => {
    const emitter = flux({ namespaces: ['apps'] });
    await Promise.all([
      emitter.deliver(pushOf('harbor.example.com/team/web', { time: '2026-03-01T10:00:00Z' })),
      emitter.deliver(pushOf('harbor.example.com/team/web', { time: '2026-03-01T10:00:01Z' })),
      emitter.deliver(pushOf('harbor.example.com/team/web', { time: '2026-03-01T10:00:02Z' })),
    ]);
    expect(api.patchesOf('ImageRepository', 'apps', 'web')).to.have.length(1);
    expect(api.object('ImageRepository', 'apps', 'web')!.metadata.annotations![FLUX_REQUESTED_AT]).to.equal(
      '2026-03-01T10:00:02Z',
    );
  });

  it('sets a new value when a replayed event finds its own time already there', async () => {
    const emitter = flux({ namespaces: ['hub'] });
    const event = pushOf('docker.io/library/nginx');
    await emitter.deliver(event);
    await emitter.deliver(event);
    const values = api
      .patchesOf('ImageRepository', 'hub', 'nginx')
      .map(
        (p) =>
          (p.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[FLUX_REQUESTED_AT],
      );
    expect(values).to.have.length(2);
    expect(values[1]).to.not.equal(values[0]);
  });

  it('is done, and says so, when no ImageRepository watches the image', async () => {
    const log = memoryLogger();
    const emitter = flux({ namespaces: ['apps'] }, log);
    await emitter.deliver(pushOf('harbor.example.com/team/unwatched'));
    expect(api.patches).to.deep.equal([]);
    expect(log.text()).to.include('no ImageRepository subscribes to the image');
    const [preview] = await emitter.preview(pushOf('harbor.example.com/team/unwatched'));
    expect(preview.title).to.include(
      'No ImageRepository in namespaces apps subscribes to harbor.example.com/team/unwatched',
    );
  });

  it('previews the exact patch, the token hidden, without patching', async () => {
    const requests = await flux({ namespaces: ['apps'] }).preview(pushOf('harbor.example.com/team/api'));
    expect(requests).to.have.length(1);
    expect(requests[0]).to.include({
      method: 'PATCH',
      url: `${api.url}/apis/image.toolkit.fluxcd.io/v1/namespaces/apps/imagerepositories/api`,
    });
    expect(JSON.parse(requests[0].body!)).to.deep.equal({
      metadata: { annotations: { [FLUX_REQUESTED_AT]: '2026-03-01T10:00:00Z' } },
    });
    expect(JSON.stringify(requests)).to.not.include(SERVICE_ACCOUNT_TOKEN);
    expect(api.patches).to.deep.equal([]);
  });

  it('dead-letters a 403 on patch, naming the RBAC verb and resource', async () => {
    api.forbid('patch', 'apps');
    const err = await deliveryError(flux({ namespaces: ['apps'] }).deliver(pushOf('harbor.example.com/team/api')));
    expect(err.retryable).to.equal(false);
    expect(err.status).to.equal(403);
    expect(err.message).to.include('needs the RBAC verb "patch" on resource "imagerepositories"');
    expect(err.message).to.include('API group "image.toolkit.fluxcd.io" in namespace apps');
  });

  it('dead-letters a 403 on list, naming the verb and where', async () => {
    api.forbid('list');
    const err = await deliveryError(flux().deliver(pushOf('harbor.example.com/team/api')));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.include('needs the RBAC verb "list" on resource "imagerepositories"');
    expect(err.message).to.include('across the cluster');
  });

  it('refuses for good when Flux image automation is not installed', async () => {
    api.versions.delete('image.toolkit.fluxcd.io');
    const err = await deliveryError(flux().deliver(pushOf('harbor.example.com/team/api')));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.include('serves no image.toolkit.fluxcd.io group');
  });

  it('retries when the API server is unreachable', async () => {
    const emitter = flux();
    await api.close();
    const err = await deliveryError(emitter.deliver(pushOf('harbor.example.com/team/api')));
    expect(err.retryable).to.equal(true);
    api = await FakeGitOpsApi.start(SERVICE_ACCOUNT_TOKEN);
  });

  it('takes pushes and deletes of repositories only', () => {
    const emitter = flux();
    expect(emitter.accepts(pushOf('a.example.com/x'))).to.equal(true);
    expect(emitter.accepts(pushOf('a.example.com/x', { type: 'delete' }))).to.equal(true);
    expect(emitter.accepts(pushOf('a.example.com/x', { type: 'scan_completed' }))).to.equal(false);
    expect(emitter.accepts(pushOf('a.example.com/x', { repo: undefined }))).to.equal(false);
  });
});

describe('flux emitter (receiver mode)', () => {
  const TOKEN = 'flux-receiver-token-8c7b6a59';
  let server: http.Server;
  let received: { headers: http.IncomingHttpHeaders; body: string }[];
  let answer = 200;

  beforeEach(async () => {
    received = [];
    answer = 200;
    server = http.createServer((req, res) => {
      void readBody(req).then((body) => {
        received.push({ headers: req.headers, body });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/0123abcd`;

  it('posts the event with the generic-hmac signature a Flux Receiver checks', async () => {
    const emitter = new FluxEmitter({ mode: 'receiver', receiver: { url: url(), token: TOKEN } });
    const event = pushOf('harbor.example.com/team/web');
    await emitter.deliver(event);
    await emitter.close();
    expect(received).to.have.length(1);
    const [{ headers, body }] = received;
    const expected = 'sha256=' + createHmac('sha256', TOKEN).update(body).digest('hex');
    expect(headers['x-signature']).to.equal(expected);
    expect(JSON.parse(body)).to.deep.equal(event);
  });

  it('hides the signature in the preview', async () => {
    const emitter = new FluxEmitter({ mode: 'receiver', receiver: { url: url(), token: TOKEN } });
    const preview = await emitter.preview(pushOf('harbor.example.com/team/web'));
    expect(preview[0].headers['X-Signature']).to.equal('sha256=(credential not shown)');
    expect(JSON.stringify(preview)).to.not.include(TOKEN);
    await emitter.close();
  });

  it('retries a 503 and dead-letters a 401 (a wrong token)', async () => {
    const emitter = new FluxEmitter({ mode: 'receiver', receiver: { url: url(), token: TOKEN } });
    answer = 503;
    expect((await deliveryError(emitter.deliver(pushOf('a.example.com/x')))).retryable).to.equal(true);
    answer = 401;
    expect((await deliveryError(emitter.deliver(pushOf('a.example.com/x')))).retryable).to.equal(false);
    await emitter.close();
  });

  it('refuses to start without a URL or a token', () => {
    expect(() => new FluxEmitter({ mode: 'receiver', receiver: { url: '', token: TOKEN } })).to.throw('receiver.url');
    expect(() => new FluxEmitter({ mode: 'receiver', receiver: { url: url(), token: '' } })).to.throw('receiver.token');
  });
});
