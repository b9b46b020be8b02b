import { rmSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import axios from 'axios';
import { expect } from 'chai';
import { Gateway, parseConfig } from '../../src/gateway';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { tempDir } from '../helpers/gateway-process';
import { memoryLogger, type MemoryLog } from '../helpers/logger';
import { acrPush } from '../helpers/steady-load';
import { waitFor } from '../helpers/wait';

const TOKEN = 'thread-token-6d1f9e2a7c';
const BRIGADE_TOKEN = 'brigade-thread-token-3a8c';

describe('delivery in its own worker thread (delivery.worker)', function () {
  this.timeout(60_000);
  let api: FakeBrigadeApi;
  let gateway: Gateway;
  let log: MemoryLog;
  let dir: string;

  beforeEach(async () => {
    api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    dir = tempDir('rg-thread-');
    log = memoryLogger('debug');
    const config = parseConfig(`
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${api.address}", apiToken: ${BRIGADE_TOKEN}}
delivery: {dir: ${dir}, initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2}
server: {port: 0}
`);
    gateway = await Gateway.start(config, log.logger);
  });

  afterEach(async () => {
    await gateway.stop(5000);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (id: string, n: number) =>
    axios.post(`http://127.0.0.1:${gateway.port}/events/acr`, acrPush(id, n), {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
  const createdIds = () => api.createdEvents.map((e) => JSON.parse(e.payload as string).id as string);

  it('delivers from the worker, whose log lines and metrics reach the main thread', async () => {
    expect((await send('thread-1', 1)).status).to.equal(202);
    await waitFor('the event at Brigade', () => createdIds().includes('thread-1'));
    // The worker's lines go through the logger the gateway was given, marked as its own.
    await waitFor("the worker's line about the delivery", () =>
      log.records.some((r) => r.thread === 'delivery' && r.eventId === 'thread-1'),
    );
    let metrics = '';
    await waitFor('the delivery counted in /metrics', async () => {
      metrics = (await axios.get<string>(`http://127.0.0.1:${gateway.port}/metrics`)).data;
      return /registry_gateway_deliveries_total\{emitter="brigade",outcome="succeeded"\} 1\b/.test(metrics);
    });
    // Counted once: the process's own series come from the main thread only.
    expect(metrics.match(/^registry_gateway_process_resident_memory_bytes /gm)).to.have.length(1);
    expect(metrics).to.match(/^registry_gateway_requests_total\{provider="acr",outcome="accepted"\} 1$/m);
  });

  it('records every request from the listener thread while the worker writes the same file: no 503, no row lost', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `logged-${i}`);
    // All at once, so the listener's group commits and request log batches meet the worker's
    // claims, marks and attempt records on the file.
    const answers = await Promise.all(ids.map((id, i) => send(id, i)));
    expect(answers.map((a) => a.status)).to.deep.equal(ids.map(() => 202));
    await waitFor('every event at Brigade', () => ids.every((id) => createdIds().includes(id)));
    const store = gateway.store;
    const logged = await waitFor('every request in the log', async () => {
      const { requests } = await store.listRequests({ limit: 1000 });
      return requests.length === ids.length ? requests : undefined;
    });
    expect(new Set(logged.flatMap((r) => r.events.map((e) => e.id)))).to.deep.equal(new Set(ids));
    expect(logged.every((r) => r.result === 'accepted' && r.provider === 'acr' && r.token === 'ci')).to.equal(true);
  });

  it('starts a worker that died again, and what was accepted meanwhile is delivered', async () => {
    const thread = (gateway as unknown as { delivery: { worker: Worker } }).delivery;
    const dead = thread.worker;
    await dead.terminate();
    expect((await send('after-crash', 2)).status).to.equal(202);
    await waitFor('a new worker', () => thread.worker !== dead);
    await waitFor('the event at Brigade', () => createdIds().includes('after-crash'));
    expect(log.records.some((r) => /delivery worker exited; starting it again/.test(String(r.msg)))).to.equal(true);
  });
});
