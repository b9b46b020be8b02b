import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManifestReader, platformsOfIndex, withPlatforms } from '../../src/delivery/platforms';
import type { Emitter } from '../../src/emitters/types';
import type { RegistryEvent } from '../../src/model/event';

const DIGEST = `sha256:${'a'.repeat(64)}`;

/** An index as buildx writes it: two images and an attestation manifest for each. */
const BUILDX_INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { digest: 'sha256:1', platform: { os: 'linux', architecture: 'amd64' } },
    { digest: 'sha256:2', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    {
      digest: 'sha256:3',
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'sha256:1' },
    },
  ],
};

/** A registry on loopback: answers manifests with `answer`, counting and recording requests. */
async function fakeRegistry(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, requests, endpoint: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

function push(registry: string, overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  return {
    id: 'e1',
    provider: 'distribution',
    source: 'brigade.sh/distribution',
    type: 'push',
    registry,
    repo: 'team/app',
    tag: 'v1',
    digest: DIGEST,
    kind: 'index',
    time: '2026-11-20T10:00:00Z',
    payload: {},
    ...overrides,
  };
}

const settings = (host: string, endpoint: string, extra: Record<string, unknown> = {}) => ({
  timeoutMs: 500,
  maxBytes: 4096,
  registries: [{ host, endpoint, username: '', password: '', passwordFile: '', ...extra }],
});

describe('platforms from the registry (OCI distribution API)', () => {
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('lists the platforms of an index, leaving out attestation manifests', () => {
    expect(platformsOfIndex(BUILDX_INDEX)).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
    expect(platformsOfIndex({ schemaVersion: 2, config: {}, layers: [] })).to.equal(undefined);
  });

  it('reads the index at the configured endpoint, once for every target of the push', async () => {
    const registry = await fakeRegistry((req, res) => {
      res.setHeader('Content-Type', 'application/vnd.oci.image.index.v1+json');
      res.end(JSON.stringify(BUILDX_INDEX));
    });
    servers.push(registry.server);
    const reader = new ManifestReader(settings(registry.host, registry.endpoint));
    const delivered: RegistryEvent[] = [];
    const target: Emitter & { filter: object } = {
      name: 'brigade',
      filter: {},
      deliver: (e) => {
        delivered.push(e);
        return Promise.resolve();
      },
    };
    const wrapped = withPlatforms(target, reader);
    await Promise.all([wrapped.deliver(push(registry.host)), wrapped.deliver(push(registry.host))]);
    expect(delivered.map((e) => e.platforms)).to.deep.equal([
      ['linux/amd64', 'linux/arm64/v8'],
      ['linux/amd64', 'linux/arm64/v8'],
    ]);
    expect(registry.requests.map((r) => r.url)).to.deep.equal([`/v2/team/app/manifests/${DIGEST}`]);
    expect(String(registry.requests[0].headers.accept)).to.include('application/vnd.oci.image.index.v1+json');
    expect(wrapped.name).to.equal('brigade');
  });

  it('never calls a registry the config does not list, whatever the payload names', async () => {
    const registry = await fakeRegistry((_req, res) => res.end(JSON.stringify(BUILDX_INDEX)));
    servers.push(registry.server);
    const reader = new ManifestReader(settings('registry.example.com', 'http://127.0.0.1:9'));
    const event = push(registry.host);
    expect(reader.wants(event)).to.equal(false);
    expect(await reader.enrich(event)).to.equal(event);
    expect(registry.requests).to.have.length(0);
  });

  it('says nothing about platforms when the registry is slow, too big or refuses', async () => {
    const slow = await fakeRegistry((_req, res) => setTimeout(() => res.end(JSON.stringify(BUILDX_INDEX)), 2000));
    const big = await fakeRegistry((_req, res) =>
      res.end(JSON.stringify({ ...BUILDX_INDEX, pad: 'x'.repeat(10_000) })),
    );
    const refusing = await fakeRegistry((_req, res) => {
      res.statusCode = 404;
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    });
    servers.push(slow.server, big.server, refusing.server);
    for (const registry of [slow, big, refusing]) {
      const started = Date.now();
      const event = await new ManifestReader(settings(registry.host, registry.endpoint)).enrich(push(registry.host));
      expect(event, registry.host).not.to.have.property('platforms');
      expect(Date.now() - started, 'bounded by timeoutMs').to.be.below(1500);
    }
  });

  it("follows the registry's token service with the pull credential, for this repository only", async () => {
    const registry = await fakeRegistry((req, res) => {
      if (req.url?.startsWith('/token')) {
        const basic = Buffer.from('puller:pull-secret-7c1d').toString('base64');
        res.statusCode = req.headers.authorization === `Basic ${basic}` ? 200 : 401;
        res.end(JSON.stringify({ token: 'registry-token-1' }));
        return;
      }
      if (req.headers.authorization !== 'Bearer registry-token-1') {
        res.statusCode = 401;
        res.setHeader('WWW-Authenticate', `Bearer realm="http://${req.headers.host}/token",service="registry"`);
        res.end();
        return;
      }
      res.end(JSON.stringify(BUILDX_INDEX));
    });
    servers.push(registry.server);
    const reader = new ManifestReader(
      settings(registry.host, registry.endpoint, { username: 'puller', password: 'pull-secret-7c1d' }),
    );
    expect((await reader.enrich(push(registry.host))).platforms).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
    const tokenRequest = registry.requests.find((r) => r.url?.startsWith('/token'))!;
    expect(tokenRequest.url).to.equal('/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry');
  });

  it('leaves events alone that name their platforms, are images, or are not pushes', () => {
    const reader = new ManifestReader(settings('reg.example.com', 'https://reg.example.com'));
    expect(reader.wants(push('reg.example.com'))).to.equal(true);
    expect(reader.wants(push('reg.example.com', { platforms: ['linux/amd64'] }))).to.equal(false);
    expect(reader.wants(push('reg.example.com', { kind: 'image' }))).to.equal(false);
    expect(reader.wants(push('reg.example.com', { type: 'delete' }))).to.equal(false);
  });
});
