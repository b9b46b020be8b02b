import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Credentials } from '../../src/auth/credentials';
import { parseConfig } from '../../src/gateway';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { Metrics } from '../../src/observability/metrics';
import { PROVIDERS } from '../../src/providers';
import { createApp } from '../../src/server/app';
import type { RequestRecord } from '../../src/delivery/store';
import { ignored } from '../../src/server/reply';
import { configSecrets, RequestRecorder } from '../../src/server/request-recorder';
import { settings, tempDir } from '../delivery/support';
import { RecordingIntake } from '../helpers/edge';
import { listen, post, type Listening } from '../helpers/http';
import { memoryLogger } from '../helpers/logger';

const TOKEN = 'tok-0123456789abcdef';
// Made at run time, so that the token is in no source file, test title or reporter line.
const PATH_TOKEN = `p${Date.now().toString(36)}${'5e1d7c3b9a0f2e4d6c8b1a3f'.slice(0, 24)}`;
const OPERATOR_TOKEN = `op-${Date.now().toString(36)}-4c2e9a7f1b3d5e6a`;
const ACR_PUSH = JSON.parse(
  readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'acr-push.json'), 'utf8'),
);

describe('server: the request log', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let recorder: RequestRecorder;
  let server: Listening;

  async function start(keepRefusedBodies: boolean) {
    const config = parseConfig(`
tokens:
  ci-acr: ${TOKEN}
  hub: {value: ${PATH_TOKEN}, verify: path, providers: [dockerhub]}
console: {tokens: {alice: ${OPERATOR_TOKEN}}}
requests: {keepRefusedBodies: ${keepRefusedBodies}}
`);
    dir = tempDir();
    store = SqliteStore.open(settings(dir.dir));
    const log = memoryLogger();
    recorder = new RequestRecorder(store, () => config.requests, log.logger, configSecrets(config));
    const app = createApp({
      config,
      credentials: new Credentials(config.tokens),
      providers: PROVIDERS,
      intake: new RecordingIntake(),
      metrics: new Metrics(),
      logger: log.logger,
      readiness: { notReadyReason: () => undefined },
      requests: recorder,
    });
    server = await listen(app);
  }

  afterEach(async () => {
    await server.close();
    await recorder.close();
    await store.close();
    dir.cleanup();
  });

  it('records a 401, a 400, a 415 and an ignored ping with their reasons, and never a token value', async () => {
    await start(true);
    const bearer = { Authorization: `Bearer ${TOKEN}` };
    expect((await post(`${server.url}/events/acr/${TOKEN}x`, ACR_PUSH)).status).to.equal(401);
    expect(
      (await post(`${server.url}/events/acr`, '{"action": ', { ...bearer, 'Content-Type': 'application/json' })).status,
    ).to.equal(400);
    const form = { ...bearer, 'Content-Type': 'application/x-www-form-urlencoded' };
    expect((await post(`${server.url}/events`, 'action=push', form)).status).to.equal(415);
    expect((await post(`${server.url}/events/acr`, { ...ACR_PUSH, action: 'ping' }, bearer)).status).to.equal(200);
    expect((await post(`${server.url}/events/acr`, ACR_PUSH, bearer)).status).to.equal(202);
    await recorder.flush();

    const { requests } = await store.listRequests();
    const [accepted, ping, unsupported, bad, unauthorized] = requests;
    expect(requests).to.have.length(5);
    expect(unauthorized).to.include({
      status: 401,
      result: 'refused',
      path: '/events/acr/[redacted]',
    });
    expect(unauthorized.reason).to.match(/^unauthorized: the path does not end/);
    // The path names the registry, so the row does, though no token was proved.
    expect(unauthorized).to.include({ provider: 'acr' });
    expect(unauthorized).not.to.have.property('token');
    expect(bad).to.include({ status: 400, result: 'refused', token: 'ci-acr', body: '{"action": ' });
    expect(bad.reason).to.match(/^rejected: /);
    expect(unsupported).to.include({ status: 415, result: 'refused', path: '/events' });
    expect(unsupported.reason).to.include('application/x-www-form-urlencoded');
    expect(ping).to.include({ status: 200, result: 'ignored', reason: 'ACR ping', token: 'ci-acr' });
    expect(accepted).to.include({ status: 202, result: 'accepted', token: 'ci-acr', provider: 'acr' });
    expect(accepted.events.map((e) => e.id)).to.have.length(1);
    for (const r of requests) {
      expect(r.source).to.match(/127\.0\.0\.1/);
      expect(r.latencyMs).to.be.a('number').and.at.least(0);
    }
    expect(JSON.stringify(requests)).not.to.include(TOKEN);
  });

  it('never keeps a token value: path tokens redacted, a token sent anywhere else taken out', async () => {
    await start(true);
    const dockerhub = readFileSync(
      path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'dockerhub-push.json'),
      'utf8',
    );
    const send = (to: string, body: unknown, headers: Record<string, string> = {}) =>
      post(`${server.url}${to}`, body, headers);
    expect((await send(`/events/dockerhub/${PATH_TOKEN}`, dockerhub)).status).to.equal(202);
    expect((await send(`/events/dockerhub/${PATH_TOKEN}x`, dockerhub)).status).to.equal(401);
    expect((await send(`/EVENTS/dockerhub/${PATH_TOKEN}`, `{"token": "${PATH_TOKEN}", `)).status).to.equal(400);
    // The token where the provider goes, and a path deeper than any webhook's.
    expect((await send(`/events/${PATH_TOKEN}`, dockerhub)).status).to.equal(404);
    expect((await send(`/events/dockerhub/${PATH_TOKEN}/more`, dockerhub)).status).to.equal(404);
    // A sender pasting tokens into a refused body.
    const bearer = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    expect((await send('/events/acr', `{"a": "${TOKEN}", "b": "${OPERATOR_TOKEN}"`, bearer)).status).to.equal(400);
    await recorder.flush();

    const { requests } = await store.listRequests();
    const [pasted, deeper, asProvider, bad, wrong, accepted] = requests;
    expect(requests).to.have.length(6);
    expect(accepted).to.include({
      status: 202,
      path: '/events/dockerhub/[redacted]',
      provider: 'dockerhub',
      token: 'hub',
    });
    expect(wrong).to.include({ status: 401, path: '/events/dockerhub/[redacted]', provider: 'dockerhub' });
    expect(bad).to.include({ status: 400, path: '/EVENTS/dockerhub/[redacted]', token: 'hub' });
    expect(bad.body).to.equal('{"token": "[redacted]", ');
    expect(asProvider).to.include({ status: 404, path: '/events/[redacted]' });
    expect(asProvider.reason).to.match(/^not_found: no provider of that name \(\d+ characters, not repeated\)/);
    expect(deeper).to.include({ status: 404, path: '/events/dockerhub/[redacted]' });
    expect(pasted.body).to.equal('{"a": "[redacted]", "b": "[redacted]"');
    const kept = JSON.stringify(requests);
    for (const secret of [PATH_TOKEN, TOKEN, OPERATOR_TOKEN]) expect(kept).not.to.include(secret);
  });

  it('keeps no body unless requests.keepRefusedBodies is on', async () => {
    await start(false);
    const bad = await post(`${server.url}/events/acr`, '{"action": ', {
      Authorization: `Bearer ${TOKEN}`,
      'Content-Type': 'application/json',
    });
    expect(bad.status).to.equal(400);
    await recorder.flush();
    const [row] = (await store.listRequests()).requests;
    expect(row).to.include({ status: 400, result: 'refused' });
    expect(row).not.to.have.property('body');
  });
});

describe('server: the request log turned off', () => {
  it('writes nothing when requests.retentionHours or requests.maxRows is 0', async () => {
    const written: RequestRecord[] = [];
    const writer = { recordRequests: (rows: readonly RequestRecord[]) => Promise.resolve(void written.push(...rows)) };
    const limits = [
      { retentionHours: 0, maxRows: 10 },
      { retentionHours: 1, maxRows: 0 },
      { retentionHours: 1, maxRows: 10 },
    ];
    for (const limit of limits) {
      const recorder = new RequestRecorder(
        writer,
        () => ({ ...limit, keepRefusedBodies: false }),
        memoryLogger().logger,
      );
      const reply = ignored('ACR ping', { provider: 'acr' });
      recorder.record({ receivedAt: 1, source: '::1', method: 'POST', path: '/events/acr', reply, latencyMs: 1 });
      await recorder.close();
    }
    expect(written.map((r) => r.reason)).to.deep.equal(['ACR ping']);
  });
});
