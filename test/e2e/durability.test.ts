import { expect } from 'chai';
import type { DeliveryRecord } from '../../src/delivery/types';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { freePort, GatewayProcess, runCli, tempDir, cleanupAfterEach } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';

const TOKEN = 'e2e-token-5f1c0d9a';
const BRIGADE_TOKEN = 'brigade-sa-token-77aa';

function acrPush(n: number, tag = `v${n}`) {
  return {
    id: `e2e-${n}-${tag}`,
    timestamp: '2026-11-20T10:00:00Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${n.toString(16).padStart(64, '0')}`,
      repository: 'team/app',
      tag,
    },
    request: { id: `r-${n}`, host: 'myregistry.azurecr.io', method: 'PUT' },
  };
}

function config(brigadeAddress: string, extra = ''): string {
  return `
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${brigadeAddress}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: 2}
${extra}
delivery: {dir: $DIR, maxAttempts: 50, initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.3, concurrency: 4}
server: {port: $PORT}
`;
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const createdIds = (api: FakeBrigadeApi) => api.createdEvents.map((e) => JSON.parse(e.payload as string).id as string);

describe('e2e: durable delivery (real gateway process)', function () {
  this.timeout(120_000);
  const cleanup = { push: cleanupAfterEach() };

  it('target down, N events acked, kill -9, restart, target up: all N delivered', async () => {
    const dir = tempDir();
    const brigadePort = await freePort();
    const address = `http://127.0.0.1:${brigadePort}`;
    const gw = await GatewayProcess.start(config(address), { dir });
    cleanup.push(() => gw.kill9());

    const N = 25;
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => post(`${gw.url}/events`, acrPush(i), auth)));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(N).fill(202));
    await gw.kill9();

    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start(brigadePort);
    cleanup.push(() => api.close());
    const again = await GatewayProcess.start(config(address), { dir });
    cleanup.push(() => again.kill9());

    await waitFor(`${N} events at Brigade`, () => new Set(createdIds(api)).size === N, 60_000);
    expect(new Set(createdIds(api))).to.deep.equal(new Set(Array.from({ length: N }, (_, i) => `e2e-${i}-v${i}`)));
  });

  it('the same ACR body twice is one delivery', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const gw = await GatewayProcess.start(config(api.address));
    cleanup.push(() => gw.kill9());

    const first = await post(`${gw.url}/events/acr`, acrPush(1), auth);
    const second = await post(`${gw.url}/events/acr`, acrPush(1), auth);
    expect(first.status).to.equal(202);
    expect(second.status).to.equal(202);
    expect(first.data.events[0].duplicate).to.equal(undefined);
    expect(second.data.events[0].duplicate).to.equal(true);

    await waitFor('the delivery', () => api.createdEvents.length === 1);
    const list = await runCli(['deliveries', 'list', '--config', gw.configPath, '--json']);
    expect(list.code).to.equal(0);
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ eventId: 'e2e-1-v1', emitter: 'brigade' });
    expect(api.createdEvents).to.have.length(1);
  });

  it('a target answering 400 dead-letters; `deliveries replay` after the fix delivers', async () => {
    const api = new FakeBrigadeApi({
      token: BRIGADE_TOKEN,
      answer: 'bad-request',
      badRequestDetails: ['labels.repo: bad'],
    });
    await api.start();
    cleanup.push(() => api.close());
    const gw = await GatewayProcess.start(config(api.address));
    cleanup.push(() => gw.kill9());

    expect((await post(`${gw.url}/events`, acrPush(7), auth)).status).to.equal(202);
    const dead = await waitFor('the dead-lettered delivery', async () => {
      const r = await runCli(['deliveries', 'list', '--config', gw.configPath, '--state', 'dead', '--json']);
      return r.stdout.trim()
        ? r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as DeliveryRecord)
        : undefined;
    });
    expect(dead).to.have.length(1);
    expect(dead[0].attempts).to.equal(1);
    expect(dead[0].lastError).to.include('labels.repo: bad');

    api.answer = 'created';
    const replay = await runCli(['deliveries', 'replay', '--config', gw.configPath, '--emitter', 'brigade']);
    expect(replay.code).to.equal(0);
    expect(replay.stdout).to.include('re-queued 1 dead-lettered delivery');
    await waitFor('the replayed delivery', () => api.createdEvents.length === 1);
    expect(createdIds(api)).to.deep.equal(['e2e-7-v7']);
  });

  it('SIGTERM exits 0 and loses nothing: undelivered events go out after the restart', async () => {
    const dir = tempDir();
    const brigadePort = await freePort();
    const address = `http://127.0.0.1:${brigadePort}`;
    const gw = await GatewayProcess.start(config(address), { dir });
    cleanup.push(() => gw.kill9());
    for (let i = 0; i < 5; i++) expect((await post(`${gw.url}/events`, acrPush(100 + i), auth)).status).to.equal(202);

    expect(await gw.terminate()).to.equal(0);
    expect(gw.stderr).to.include('stopped');

    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start(brigadePort);
    cleanup.push(() => api.close());
    const again = await GatewayProcess.start(config(address), { dir });
    cleanup.push(() => again.kill9());
    await waitFor('the 5 events after restart', () => new Set(createdIds(api)).size === 5);
  });

  it('with two targets, one down never delays the other', async () => {
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const broker = await FakeKnativeBroker.start();
    cleanup.push(() => broker.close());
    broker.respondWith(503);
    const gw = await GatewayProcess.start(
      config(api.address, `  knative: {enabled: true, brokerURL: "${broker.url}"}`),
    );
    cleanup.push(() => gw.kill9());

    for (let i = 0; i < 5; i++) expect((await post(`${gw.url}/events`, acrPush(200 + i), auth)).status).to.equal(202);
    await waitFor('Brigade to get all 5 while the broker is down', () => new Set(createdIds(api)).size === 5, 15_000);
    expect(broker.received).to.have.length(0);
    expect(broker.requests.length).to.be.greaterThan(0);

    broker.respondWith(undefined);
    await waitFor('the broker to catch up', () => new Set(broker.received.map((e) => e.attributes.id)).size === 5);
  });
});
