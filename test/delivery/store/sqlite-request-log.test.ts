import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SqliteStore } from '../../../src/delivery/store/sqlite';
import { REQUEST_LOG_BUSY_MS } from '../../../src/delivery/store/sqlite-request-log';
import { ignored } from '../../../src/server/reply';
import { RequestRecorder } from '../../../src/server/request-recorder';
import { memoryLogger } from '../../helpers/logger';
import { waitFor } from '../../helpers/wait';
import { makeEvent, settings, tempDir } from '../support';

const LIMITS = { retentionHours: 24, maxRows: 1000, keepRefusedBodies: false };

describe('SQLite request log beside another writer of the file (the delivery worker, the CLI)', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let other: Database.Database;

  beforeEach(() => {
    dir = tempDir();
    store = SqliteStore.open(settings(dir.dir));
    other = new Database(store.file, { timeout: 5000 });
  });

  afterEach(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await store.close();
    dir.cleanup();
  });

  it('gives up on a held write lock at once, leaves the store ready, and writes the rows once the lock is free', async () => {
    const log = memoryLogger();
    const recorder = new RequestRecorder(store, () => LIMITS, log.logger);
    const own = (store as unknown as { db: Database.Database }).db;
    const before = {
      synchronous: own.pragma('synchronous', { simple: true }),
      busy: own.pragma('busy_timeout', { simple: true }),
    };
    expect(before).to.deep.equal({ synchronous: 2, busy: 5000 });

    other.exec('BEGIN IMMEDIATE');
    recorder.record({
      receivedAt: Date.now(),
      source: '10.0.0.9',
      method: 'POST',
      path: '/events/acr',
      reply: ignored('ACR ping', { provider: 'acr' }),
      latencyMs: 0.4,
    });
    const started = performance.now();
    await recorder.flush();
    // The connection's 5 s busy timeout would hold the event loop, and every answer, that long.
    expect(performance.now() - started).to.be.below(REQUEST_LOG_BUSY_MS + 500);
    expect(log.records.some((r) => r.msg === 'request log write failed; its rows wait for the next batch')).to.equal(
      true,
    );
    expect(store.notReadyReason(), 'a request log write moves no readiness').to.equal(undefined);
    // Accepts after it keep their fsync and their patience.
    expect(own.pragma('synchronous', { simple: true })).to.equal(2);
    expect(own.pragma('busy_timeout', { simple: true })).to.equal(5000);

    other.exec('COMMIT');
    await waitFor(
      'the kept row written with a later batch',
      async () => (await store.listRequests()).requests.length === 1,
    );
    const [accepted] = await store.accept([{ event: makeEvent('after-the-lock'), emitters: ['log'] }]);
    expect(accepted.duplicate).to.equal(false);
    await waitFor('the recovery said', () => log.records.some((r) => r.msg === 'request log writes go through again'));
    await recorder.close();
  });

  it('gives the whole log up when the store is full for space: room for events comes first', async function () {
    this.timeout(20_000);
    await store.close();
    store = SqliteStore.open(settings(dir.dir, { maxStoreBytes: 512 * 1024 }));
    await store.recordRequests(
      Array.from({ length: 20 }, (_, i) => ({
        receivedAt: Date.now(),
        source: '10.0.0.9',
        method: 'POST',
        path: `/events/acr`,
        status: 202,
        result: 'accepted' as const,
        eventIds: [`big-${i}`],
        latencyMs: 1,
      })),
    );
    for (let i = 0; store.notReadyReason() === undefined && i < 500; i++) {
      const event = makeEvent(`big-${i}`, { payload: { blob: 'x'.repeat(8 * 1024) } });
      await store.accept([{ event, emitters: ['log'] }]).catch(() => undefined);
    }
    expect(store.notReadyReason()).to.match(/store is full/);
    // Nothing is delivered, so only the request log can go; it goes on the reclaim's first round.
    await waitFor('the request log emptied', async () => (await store.listRequests()).requests.length === 0);
  });
});
