import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Credentials } from '../../src/auth/credentials';
import { parseConfig } from '../../src/gateway';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { Metrics } from '../../src/observability/metrics';
import { PROVIDERS } from '../../src/providers';
import { createApp } from '../../src/server/app';
import { RequestRecorder } from '../../src/server/request-recorder';
import { settings, tempDir } from '../delivery/support';
import { RecordingIntake } from '../helpers/edge';
import { listen, post, type Listening } from '../helpers/http';
import { memoryLogger } from '../helpers/logger';

const TOKEN = 'tok-0123456789abcdef';
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
requests: {keepRefusedBodies: ${keepRefusedBodies}}
`);
    dir = tempDir();
    store = SqliteStore.open(settings(dir.dir));
    const log = memoryLogger();
    recorder = new RequestRecorder(store, () => config.requests, log.logger);
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
