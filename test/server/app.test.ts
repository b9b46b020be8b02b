import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { parseConfig } from '../../src/gateway';
import { UnavailableError } from '../../src/model/errors';
import { PROVIDERS } from '../../src/providers';
import { startEdge, type RecordingIntake } from '../helpers/edge';
import { post, type Listening } from '../helpers/http';
import type { MemoryLog } from '../helpers/logger';
import { interceptHttpDuringSuite, nock } from '../helpers/nock';

const TOKEN = 'tok-0123456789abcdef';
const HARBOR_TOKEN = 'harbor-tok-fedcba9876543210';
const ACR_PUSH = JSON.parse(
  readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'acr-push.json'), 'utf8'),
);
const auth = (token = TOKEN) => ({ Authorization: `Bearer ${token}` });

describe('server/app', () => {
  let server: Listening;
  let intake: RecordingIntake;
  let log: MemoryLog;
  let ready: string | undefined;

  async function start(extra = '') {
    const config = parseConfig(`
tokens:
  legacy: ${TOKEN}
  harbor-prod:
    value: ${HARBOR_TOKEN}
    providers: [harbor]
    registries: [harbor.example.com]
    repos: ["library/*"]
defaultRegistry: {acr: fallback.azurecr.io}
server: {bodyLimit: 4kb${extra}}
`);
    ready = undefined;
    const edge = await startEdge({ config, notReadyReason: () => ready });
    ({ intake, log } = edge);
    server = edge;
  }

  beforeEach(() => start());
  afterEach(() => server.close());

  describe('authentication', () => {
    it('401 with the Bearer challenge and a hint when there is no Authorization header', async () => {
      const res = await post(`${server.url}/events`, ACR_PUSH);
      expect(res.status).to.equal(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="registry-gateway"');
      expect(res.data).to.deep.equal({
        status: 'unauthorized',
        errors: ['send the token as "Authorization: Bearer <token>"'],
      });
      expect(intake.accepted).to.have.length(0);
    });

    it('401 for another scheme, for a malformed header and for an unknown token', async () => {
      const digest = await post(`${server.url}/events`, ACR_PUSH, { Authorization: `Digest ${TOKEN}` });
      expect(digest.status).to.equal(401);
      expect(digest.data.errors).to.deep.equal(['the Authorization header must use the Bearer scheme']);

      const malformed = await post(`${server.url}/events`, ACR_PUSH, { Authorization: `Bearer  ${TOKEN}` });
      expect(malformed.status).to.equal(401);
      expect(malformed.data.errors[0]).to.match(/one space/);

      const unknown = await post(`${server.url}/events`, ACR_PUSH, auth('not-a-token'));
      expect(unknown.status).to.equal(401);
      expect(unknown.headers['www-authenticate']).to.equal('Bearer realm="registry-gateway", error="invalid_token"');
      expect(unknown.data.errors).to.deep.equal(['the token is not one this gateway knows']);
      expect(intake.accepted).to.have.length(0);
    });

    it('accepts the scheme word in any case', async () => {
      const res = await post(`${server.url}/events`, ACR_PUSH, { Authorization: `bEaReR ${TOKEN}` });
      expect(res.status).to.equal(202);
    });

    it('never takes a token from the query string or the body', async () => {
      const query = await post(`${server.url}/events?access_token=${TOKEN}`, ACR_PUSH);
      expect(query.status).to.equal(401);
      expect(query.data.errors[0]).to.match(/query string/);
      const body = await post(`${server.url}/events`, { ...ACR_PUSH, access_token: TOKEN });
      expect(body.status).to.equal(401);
      expect(intake.accepted).to.have.length(0);
      expect(log.text()).not.to.include(TOKEN);
    });

    it('403 naming the scope: provider, registry, repository', async () => {
      const provider = await post(`${server.url}/events`, ACR_PUSH, auth(HARBOR_TOKEN));
      expect(provider.status).to.equal(403);
      expect(provider.data.scope).to.equal('providers');

      const harborPush = (host: string, repo: string) => ({
        type: 'PUSH_ARTIFACT',
        occur_at: 1700000000,
        operator: 'admin',
        event_data: {
          resources: [{ digest: `sha256:${'a'.repeat(64)}`, tag: 'v1', resource_url: `${host}/${repo}:v1` }],
          repository: { name: repo.split('/')[1], namespace: repo.split('/')[0], repo_full_name: repo },
        },
      });
      const registry = await post(
        `${server.url}/events`,
        harborPush('evil.example.com', 'library/app'),
        auth(HARBOR_TOKEN),
      );
      expect(registry.status).to.equal(403);
      expect(registry.data.scope).to.equal('registries');
      expect(registry.data.errors[0]).to.include('evil.example.com');

      const repo = await post(
        `${server.url}/events`,
        harborPush('harbor.example.com', 'secret/app'),
        auth(HARBOR_TOKEN),
      );
      expect(repo.status).to.equal(403);
      expect(repo.data.scope).to.equal('repos');

      const ok = await post(
        `${server.url}/events`,
        harborPush('harbor.example.com', 'library/app'),
        auth(HARBOR_TOKEN),
      );
      expect(ok.status).to.equal(202);
      expect(intake.accepted.map((e) => e.repo)).to.deep.equal(['library/app']);
    });

    it('never logs a token, even a wrong one', async () => {
      await post(`${server.url}/events`, ACR_PUSH, auth('wrong-secret-value-42'));
      await post(`${server.url}/events`, ACR_PUSH, auth());
      expect(log.text()).not.to.include('wrong-secret-value-42');
      expect(log.text()).not.to.include(TOKEN);
      expect(log.lines().length).to.be.greaterThan(0);
    });
  });

  describe('events', () => {
    it('202 with the normalised summary for an ACR push, on /events and /events/acr', async () => {
      const res = await post(`${server.url}/events`, ACR_PUSH, auth());
      expect(res.status).to.equal(202);
      expect(res.data).to.deep.equal({
        status: 'accepted',
        events: [
          {
            id: ACR_PUSH.id,
            source: 'brigade.sh/acr',
            type: 'push',
            registry: 'myregistry.azurecr.io',
            repo: 'team/web',
          },
        ],
      });
      const named = await post(`${server.url}/events/acr`, { ...ACR_PUSH, id: 'another-id' }, auth());
      expect(named.status).to.equal(202);
      expect(intake.accepted.map((e) => e.id)).to.deep.equal([ACR_PUSH.id, 'another-id']);
    });

    it('202 with duplicate: true for the same event again', async () => {
      await post(`${server.url}/events`, ACR_PUSH, auth());
      const again = await post(`${server.url}/events`, ACR_PUSH, auth());
      expect(again.status).to.equal(202);
      expect(again.data.events[0].duplicate).to.equal(true);
      expect(intake.accepted).to.have.length(1);
    });

    it('200 ignored for an ACR ping and for an unknown action', async () => {
      const ping = await post(
        `${server.url}/events`,
        { id: 'p', timestamp: '2026-01-01T00:00:00Z', action: 'ping' },
        auth(),
      );
      expect(ping.status).to.equal(200);
      expect(ping.data.status).to.equal('ignored');
      const odd = await post(`${server.url}/events`, { ...ACR_PUSH, action: 'rename' }, auth());
      expect(odd.status).to.equal(200);
      expect(odd.data.status).to.equal('ignored');
      expect(intake.accepted).to.have.length(0);
    });

    it('ACR chart events take the registry from defaultRegistry.acr', async () => {
      const chart = JSON.parse(
        readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'acr-chart-push.json'), 'utf8'),
      );
      const res = await post(`${server.url}/events/acr`, chart, auth());
      expect(res.status).to.equal(202);
      expect(res.data.events[0]).to.include({ type: 'chart_push', registry: 'fallback.azurecr.io', repo: 'charts' });
    });

    it('400 naming every bad field', async () => {
      const res = await post(
        `${server.url}/events/acr`,
        { id: 'x', action: 'push', target: { repository: 'Bad Repo', digest: 'nope', tag: 5 } },
        auth(),
      );
      expect(res.status).to.equal(400);
      expect(res.data.status).to.equal('rejected');
      expect(res.data.errors).to.include.members([
        'target.repository "Bad Repo" is not a repository name',
        'target.digest "nope" is not a digest (algorithm:hex)',
        'target.tag must be a string, got a number',
      ]);
    });

    it('400 for a body that is not JSON, empty, or of no known shape', async () => {
      const notJson = await post(`${server.url}/events`, '{"action": ', auth());
      expect(notJson.status).to.equal(400);
      expect(notJson.data.errors[0]).to.match(/^body is not valid JSON/);
      const empty = await post(`${server.url}/events`, '', auth());
      expect(empty.status).to.equal(400);
      expect(empty.data.errors[0]).to.match(/^body is empty/);
      const shape = await post(`${server.url}/events`, { hello: 'world' }, auth());
      expect(shape.status).to.equal(400);
      expect(shape.data.errors[0]).to.include(
        `matches no accepted webhook shape (${PROVIDERS.map((p) => p.name).join(', ')})`,
      );
    });

    it('413 over server.bodyLimit, 415 for other media types', async () => {
      const big = await post(`${server.url}/events`, { ...ACR_PUSH, padding: 'x'.repeat(8 * 1024) }, auth());
      expect(big.status).to.equal(413);
      expect(big.data.errors[0]).to.match(/bodyLimit/);
      const form = await post(`${server.url}/events`, 'action=push', {
        ...auth(),
        'Content-Type': 'application/x-www-form-urlencoded',
      });
      expect(form.status).to.equal(415);
      expect(form.data.errors[0]).to.include('application/x-www-form-urlencoded');
    });

    it('accepts the registries’ own content types and a missing one', async () => {
      const none = await axios.post(`${server.url}/events/acr`, Buffer.from(JSON.stringify(ACR_PUSH)), {
        headers: { ...auth(), 'Content-Type': '' },
        validateStatus: () => true,
      });
      expect(none.status).to.equal(202);
      const dist = await post(
        `${server.url}/events`,
        {
          events: [
            {
              id: 'd1',
              timestamp: '2026-01-01T00:00:00Z',
              action: 'push',
              target: {
                mediaType: 'application/vnd.oci.image.manifest.v1+json',
                digest: `sha256:${'b'.repeat(64)}`,
                repository: 'team/app',
                tag: 'v1',
              },
              request: { host: '127.0.0.1:5000' },
            },
          ],
        },
        { ...auth(), 'Content-Type': 'application/vnd.docker.distribution.events.v1+json' },
      );
      expect(dist.status).to.equal(202);
      expect(dist.data.events[0]).to.include({ registry: '127.0.0.1:5000', repo: 'team/app' });
    });

    it('503 with Retry-After when the store cannot take the event', async () => {
      intake.failWith = new UnavailableError('store is closed', 7);
      const res = await post(`${server.url}/events`, ACR_PUSH, auth());
      expect(res.status).to.equal(503);
      expect(res.headers['retry-after']).to.equal('7');
      expect(res.data).to.deep.equal({ status: 'unavailable', errors: ['store is closed'] });
    });

    it('500 says nothing about internals when a bug surfaces', async () => {
      intake.failWith = new Error('SQLITE_CORRUPT at /var/lib/secret/path');
      const res = await post(`${server.url}/events`, ACR_PUSH, auth());
      expect(res.status).to.equal(500);
      expect(JSON.stringify(res.data)).not.to.include('SQLITE');
      expect(res.data.errors[0]).to.match(/^internal error \(request /);
    });

    it('404 for an unknown provider path, 405 for other methods', async () => {
      const unknown = await post(`${server.url}/events/nexus`, ACR_PUSH, auth());
      expect(unknown.status).to.equal(404);
      expect(unknown.data.errors[0]).to.include('nexus');
      const get = await axios.get(`${server.url}/events`, { validateStatus: () => true });
      expect(get.status).to.equal(405);
      expect(get.headers.allow).to.equal('POST, OPTIONS');
    });
  });

  describe('Event Grid handshakes', () => {
    interceptHttpDuringSuite();
    // The gateway must never call a URL a request names (server-side request forgery).
    let callbacks: nock.Scope;
    beforeEach(() => {
      callbacks = nock('http://169.254.169.254').get(/.*/).reply(200).post(/.*/).reply(200);
    });
    afterEach(() => {
      expect(callbacks.pendingMocks(), 'callback URLs must never be called').to.have.length(2);
      nock.cleanAll();
    });

    it('answers the CloudEvents abuse-protection OPTIONS, authenticated', async () => {
      const anonymous = await axios.options(`${server.url}/events/eventgrid`, {
        headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
        validateStatus: () => true,
      });
      expect(anonymous.status).to.equal(401);
      const res = await axios.options(`${server.url}/events/eventgrid`, {
        headers: {
          ...auth(),
          'WebHook-Request-Origin': 'eventgrid.azure.net',
          'WebHook-Request-Callback': 'http://169.254.169.254/latest',
        },
        validateStatus: () => true,
      });
      expect(res.status).to.equal(200);
      expect(res.headers['webhook-allowed-origin']).to.equal('eventgrid.azure.net');
    });

    it('answers SubscriptionValidationEvent with its validation code', async () => {
      const res = await post(
        `${server.url}/events`,
        [
          {
            id: '2d1781af-3a4c-4d7c-bd0c-e34b19da4e66',
            topic: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry',
            subject: '',
            data: {
              validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6',
              validationUrl: 'http://169.254.169.254/validate?code=512d38b6',
            },
            eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
            eventTime: '2026-01-01T00:00:00Z',
            metadataVersion: '1',
            dataVersion: '1',
          },
        ],
        auth(),
      );
      expect(res.status).to.equal(200);
      expect(res.data).to.deep.equal({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
    });
  });

  describe('operations', () => {
    it('healthz, readyz following readiness, metrics without repo or token labels', async () => {
      expect((await axios.get(`${server.url}/healthz`)).data).to.deep.equal({ status: 'ok' });
      expect((await axios.get(`${server.url}/readyz`)).status).to.equal(200);
      ready = 'shutting down';
      const notReady = await axios.get(`${server.url}/readyz`, { validateStatus: () => true });
      expect(notReady.status).to.equal(503);
      expect(notReady.data.reason).to.equal('shutting down');

      await post(`${server.url}/events`, ACR_PUSH, auth());
      const metrics = (await axios.get(`${server.url}/metrics`)).data as string;
      expect(metrics).to.include('registry_gateway_requests_total{provider="acr",outcome="accepted"} 1');
      expect(metrics).to.include('registry_gateway_events_total{provider="acr",type="push",outcome="accepted"} 1');
      expect(metrics).not.to.include('team/web');
      expect(metrics).not.to.include(TOKEN);
    });

    it('puts a request id on every log line and echoes it', async () => {
      const res = await post(`${server.url}/events`, ACR_PUSH, { ...auth(), 'X-Request-Id': 'harbor-req-42' });
      expect(res.headers['x-request-id']).to.equal('harbor-req-42');
      const lines = log.lines().map((l) => JSON.parse(l));
      expect(lines.length).to.be.greaterThan(1);
      for (const line of lines) expect(line.requestId).to.equal('harbor-req-42');
    });

    it('429 with Retry-After over the rate limit', async () => {
      await server.close();
      await start(', rateLimit: {requestsPerSecond: 1, burst: 2}');
      const codes: number[] = [];
      for (let i = 0; i < 4; i++)
        codes.push((await post(`${server.url}/events`, { ...ACR_PUSH, id: `r${i}` }, auth())).status);
      expect(codes.slice(0, 2)).to.deep.equal([202, 202]);
      expect(codes).to.include(429);
      const limited = await post(`${server.url}/events`, ACR_PUSH, auth());
      if (limited.status === 429) expect(Number(limited.headers['retry-after'])).to.be.greaterThan(0);
    });
  });
});
