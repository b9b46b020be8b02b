import { expect } from 'chai';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dryRunEdge, prepareRequest, sendCommand } from '../../src/cli/send';
import type { TokenVerification } from '../../src/config/types';
import { parseConfig } from '../../src/gateway';
import { contentTypeFor, PROVIDERS } from '../../src/providers';
import type { RegistryProvider } from '../../src/providers/types';
import { startEdge, type Edge } from '../helpers/edge';
import { REPO_ROOT, tempDir } from '../helpers/gateway-process';
import { interceptHttpDuringSuite, nock } from '../helpers/nock';

const PAYLOADS = path.join(REPO_ROOT, 'examples', 'payloads');
const BEARER = 'send-bearer-token-5d1c9e7a3b';
const GITHUB_SECRET = 'send-github-secret-8e2a4c6f0b';
const JFROG_SECRET = 'send-jfrog-secret-1b3d5f7a9c';
const PATH_TOKEN = 'send-path-token-6f4e2d0c8a91b3c5d7e9f1a3';
const GHCR_EVENTS_ONLY = 'send-ghcr-only-token-2c4e6a8b0d';

const EDGE_CONFIG = `
tokens:
  ci: ${BEARER}
  github: {value: ${GITHUB_SECRET}, verify: github-hmac, providers: [ghcr]}
  jfrog: {value: ${JFROG_SECRET}, verify: jfrog, providers: [artifactory]}
  hook: {value: ${PATH_TOKEN}, verify: path}
`;

function recorder() {
  const lines = { info: [] as string[], error: [] as string[] };
  return { lines, out: { info: (l: string) => lines.info.push(l), error: (l: string) => lines.error.push(l) } };
}

describe('cli/send', () => {
  describe('against a nock', () => {
    interceptHttpDuringSuite();
    afterEach(() => nock.cleanAll());

    it('picks the Content-Type each registry uses for the body shape', () => {
      expect(contentTypeFor({ action: 'push', target: {} })).to.equal('application/json');
      expect(contentTypeFor([{ eventType: 'Microsoft.ContainerRegistry.ImagePushed' }])).to.equal('application/json');
      expect(contentTypeFor({ specversion: '1.0', type: 'harbor.artifact.pushed' })).to.equal(
        'application/cloudevents+json',
      );
      expect(contentTypeFor({ specversion: '1.0', type: 'Microsoft.ContainerRegistry.ImagePushed' })).to.equal(
        'application/json',
      );
      expect(contentTypeFor({ events: [] })).to.equal('application/vnd.docker.distribution.events.v1+json');
    });

    it('posts each file as the registry would and fails when one is not answered 2xx', async () => {
      const dir = tempDir();
      const harbor = path.join(dir, 'harbor-ce.json');
      const dist = path.join(dir, 'dist.json');
      const broken = path.join(dir, 'broken.json');
      writeFileSync(harbor, JSON.stringify({ specversion: '1.0', type: 'harbor.artifact.pushed', id: '1' }));
      writeFileSync(dist, JSON.stringify({ events: [{ id: 'd' }] }));
      writeFileSync(broken, '{"not": json');

      const gateway = nock('http://gateway.test', { reqheaders: { authorization: 'Bearer t0ken' } })
        .post('/events', (body) => body.type === 'harbor.artifact.pushed')
        .matchHeader('content-type', 'application/cloudevents+json')
        .reply(202, { status: 'accepted' })
        .post('/events', (body) => Array.isArray(body.events))
        .matchHeader('content-type', 'application/vnd.docker.distribution.events.v1+json')
        .reply(400, { status: 'rejected', errors: ['events[0].action is required'] });

      const { lines, out } = recorder();
      const code = await sendCommand(
        { url: 'http://gateway.test/events', token: 't0ken', files: [harbor, dist, broken] },
        out,
      );
      expect(gateway.isDone()).to.equal(true);
      expect(code).to.equal(1);
      expect(lines.info).to.deep.equal([`${harbor}: 202 {"status":"accepted"}`]);
      expect(lines.error[0]).to.equal(`${dist}: 400 {"status":"rejected","errors":["events[0].action is required"]}`);
      expect(lines.error[1]).to.match(/broken\.json: cannot read a JSON body/);
      expect([...lines.info, ...lines.error].join('\n')).not.to.include('t0ken');
    });
  });

  describe('against the HTTP edge', () => {
    let edge: Edge;
    before(async () => {
      edge = await startEdge({
        config: parseConfig(EDGE_CONFIG),
      });
    });
    after(() => edge.close());

    /** A payload file copied alone into a fresh folder, so no sidecar comes with it unless given. */
    function lonePayload(name: string, sidecar?: string): string {
      const file = path.join(tempDir(), name);
      copyFileSync(path.join(PAYLOADS, name), file);
      if (sidecar !== undefined) writeFileSync(file.replace(/\.json$/, '.headers'), sidecar);
      return file;
    }

    it('adds the headers GitHub sends from the provider when the file has no sidecar, with a stable delivery id', async () => {
      const file = lonePayload('ghcr-package-published.json');
      const first = prepareRequest(file, { url: `${edge.url}/events`, token: BEARER });
      expect(first.headers['x-github-event']).to.equal('package');
      expect(first.headers['x-github-delivery']).to.match(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );

      const { lines, out } = recorder();
      const code = await sendCommand({ url: `${edge.url}/events`, token: BEARER, files: [file, file] }, out);
      expect(code, lines.error.join('\n')).to.equal(0);
      // The second post is a redelivery of the first: the same id, accepted once.
      expect(edge.intake.received.map((e) => e.id)).to.deep.equal([
        first.headers['x-github-delivery'],
        first.headers['x-github-delivery'],
      ]);
      expect(edge.intake.accepted.filter((e) => e.id === first.headers['x-github-delivery'])).to.have.length(1);
    });

    it('sends the sidecar headers, over what the provider would add', async () => {
      const file = lonePayload(
        'ghcr-package-published.json',
        'X-GitHub-Event: registry_package\nX-GitHub-Delivery: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n\nUser-Agent: GitHub-Hookshot/044aadd\n',
      );
      const prepared = prepareRequest(file, { url: `${edge.url}/events`, token: BEARER });
      expect(prepared.headers).to.deep.include({
        'X-GitHub-Event': 'registry_package',
        'X-GitHub-Delivery': '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
        'User-Agent': 'GitHub-Hookshot/044aadd',
        'Content-Type': 'application/json',
      });
      expect(Object.keys(prepared.headers).filter((h) => /^x-github-event$/i.test(h))).to.have.length(1);
      // The body says `package`, the header `registry_package`: the gateway reads the header and
      // finds no `registry_package` object, which shows the sidecar's value is what was sent.
      const { lines, out } = recorder();
      expect(await sendCommand({ url: `${edge.url}/events`, token: BEARER, files: [file] }, out)).to.equal(1);
      expect(lines.error[0]).to.match(/: 400 .*registry_package/);
    });

    it('finds the provider through sidecar headers: a CloudEvents binary-mode delivery', async () => {
      const body = path.join(tempDir(), 'binary.json');
      writeFileSync(
        body,
        JSON.stringify({
          id: 'a1b2c3d4-0001',
          timestamp: '2026-11-20T09:15:02Z',
          action: 'push',
          target: { repository: 'team/web', tag: 'v2', digest: `sha256:${'ab'.repeat(32)}` },
          request: { host: 'myregistry.azurecr.io' },
        }),
      );
      writeFileSync(
        body.replace(/\.json$/, '.headers'),
        [
          'ce-specversion: 1.0',
          'ce-type: Microsoft.ContainerRegistry.ImagePushed',
          'ce-source: /subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry',
          'ce-id: 5e6f7a8b-binary-mode',
          'ce-time: 2026-11-20T09:15:03Z',
          'Content-Type: application/json',
        ].join('\n'),
      );
      const { lines, out } = recorder();
      const code = await sendCommand({ url: `${edge.url}/events`, token: BEARER, files: [body] }, out);
      expect(code, lines.error.join('\n')).to.equal(0);
      expect(edge.intake.received.at(-1)).to.include({ provider: 'eventgrid', id: '5e6f7a8b-binary-mode', tag: 'v2' });
    });

    it('signs the body for a github-hmac token and a jfrog token, and puts a path token in the path', async () => {
      const ghcr = lonePayload('ghcr-package-published.json');
      const artifactory = lonePayload('artifactory-docker-pushed.json');
      const quay = lonePayload('quay-repo-push.json');
      const signed = prepareRequest(ghcr, { url: `${edge.url}/events`, token: GITHUB_SECRET, verify: 'github-hmac' });
      expect(signed.headers).to.not.have.any.keys('Authorization', 'authorization');
      expect(JSON.stringify(signed)).to.not.include(GITHUB_SECRET);

      const { lines, out } = recorder();
      const url = `${edge.url}/events`;
      const ghcrCode = await sendCommand({ url, token: GITHUB_SECRET, verify: 'github-hmac', files: [ghcr] }, out);
      expect(ghcrCode, lines.error.join('\n')).to.equal(0);
      expect(await sendCommand({ url, token: JFROG_SECRET, verify: 'jfrog', files: [artifactory] }, out)).to.equal(0);
      expect(await sendCommand({ url, token: PATH_TOKEN, verify: 'path', files: [quay] }, out)).to.equal(0);
      const named = `${edge.url}/events/quay`;
      expect(await sendCommand({ url: named, token: PATH_TOKEN, verify: 'path', files: [quay] }, out)).to.equal(0);
      expect(lines.error, lines.error.join('\n')).to.deep.equal([]);
      expect(lines.info.map((l) => l.split(': ')[1].slice(0, 3))).to.deep.equal(['202', '202', '202', '202']);

      // The gateway checks the signature, so another secret is refused, and no line shows a secret.
      expect(await sendCommand({ url, token: GHCR_EVENTS_ONLY, verify: 'github-hmac', files: [ghcr] }, out)).to.equal(
        1,
      );
      expect(lines.error[0]).to.match(/: 401 .*signature/);
      const printed = [...lines.info, ...lines.error].join('\n');
      for (const secret of [GITHUB_SECRET, JFROG_SECRET, PATH_TOKEN, GHCR_EVENTS_ONLY])
        expect(printed).to.not.include(secret);
    });

    it('--dry-run answers in process as the gateway at --url does, for every token form, without a server', async () => {
      const configFile = path.join(tempDir(), 'values.yaml');
      writeFileSync(configFile, EDGE_CONFIG);
      const local = dryRunEdge(configFile);
      const cases: [string, string, TokenVerification, string][] = [
        ['acr-push.json', BEARER, 'bearer', '/events'],
        ['acr-push.json', 'not-a-token-of-this-gateway', 'bearer', '/events'],
        ['ghcr-package-published.json', GITHUB_SECRET, 'github-hmac', '/events'],
        ['ghcr-package-published.json', GHCR_EVENTS_ONLY, 'github-hmac', '/events'],
        ['artifactory-docker-pushed.json', JFROG_SECRET, 'jfrog', '/events'],
        ['quay-repo-push.json', PATH_TOKEN, 'path', '/events/quay'],
        ['quay-repo-push.json', PATH_TOKEN, 'path', '/events/acr'],
        ['harbor-push.json', BEARER, 'bearer', '/events/nexus'],
      ];
      const seen: string[] = [];
      for (const [name, token, verify, at] of cases) {
        const files = [lonePayload(name)];
        const overHttp = recorder();
        const inProcess = recorder();
        await sendCommand({ url: `${edge.url}${at}`, token, verify, files }, overHttp.out);
        const received = edge.intake.received.length;
        await sendCommand({ url: `http://dry-run${at}`, token, verify, files, local }, inProcess.out);
        expect(edge.intake.received.length, 'a dry run posts nothing').to.equal(received);
        const status = (r: ReturnType<typeof recorder>) =>
          [...r.lines.info, ...r.lines.error][0].split(': ')[1].slice(0, 3);
        expect(status(inProcess), `${name} ${verify} ${at}`).to.equal(status(overHttp));
        seen.push(status(inProcess));
      }
      expect(seen).to.deep.equal(['202', '401', '202', '401', '202', '202', '400', '404']);
    });

    it('names the file and line of a sidecar that is not headers, and posts nothing for it', async () => {
      const file = lonePayload('acr-push.json', 'X-Fine: yes\nthis is not a header\n');
      const before = edge.intake.received.length;
      const { lines, out } = recorder();
      expect(await sendCommand({ url: `${edge.url}/events`, token: BEARER, files: [file] }, out)).to.equal(1);
      expect(lines.error).to.deep.equal([
        `${file}: ${file.replace(/\.json$/, '.headers')}:2: not a "Name: value" header line`,
      ]);
      expect(edge.intake.received.length).to.equal(before);
    });
  });

  it('adds only headers a provider declares it reads', () => {
    for (const provider of PROVIDERS as readonly RegistryProvider[]) {
      if (!provider.sendHeaders) continue;
      const sample = { package: { package_version: {} } };
      for (const name of Object.keys(provider.sendHeaders(sample))) {
        expect(provider.headers ?? [], `${provider.name}: ${name}`).to.include(name);
      }
    }
  });
});
