import { expect } from 'chai';
import { PostgresStore } from '../../../src/delivery/store/postgres';
import { TurnBatch } from '../../../src/delivery/store/postgres-outcomes';
import { requirePostgres, sharedPostgres } from '../../helpers/postgres';
import { makeEvent, settings, tempDir } from '../support';

/**
 * Delivery outcomes on PostgreSQL are written per loop turn, one statement for the marks and one
 * for the attempt rows (postgres-outcomes.ts): each caller must still be answered for its own row.
 */
describe('PostgreSQL delivery outcomes', () => {
  describe('a turn batch', () => {
    it('writes what is added in one loop turn with one call, answering each caller its own result', async () => {
      const calls: number[][] = [];
      const batch = new TurnBatch<number, number>((items) => {
        calls.push(items);
        return Promise.resolve(items.map((n) => n * 10));
      });
      const answers = await Promise.all([batch.add(1), batch.add(2), batch.add(3)]);
      expect(answers).to.deep.equal([10, 20, 30]);
      expect(calls).to.deep.equal([[1, 2, 3]]);
      expect(await batch.add(4)).to.equal(40);
      expect(calls).to.deep.equal([[1, 2, 3], [4]]);
    });

    it('writes a refused batch again row by row, so one bad row fails only its own caller', async () => {
      const calls: number[][] = [];
      const batch = new TurnBatch<number, number>((items) => {
        calls.push(items);
        if (items.includes(2)) return Promise.reject(new Error('invalid byte sequence for encoding "UTF8": 0x00'));
        return Promise.resolve(items.map((n) => n));
      });
      const answers = await Promise.allSettled([batch.add(1), batch.add(2), batch.add(3)]);
      expect(answers.map((a) => a.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(calls).to.deep.equal([[1, 2, 3], [1], [2], [3]]);
    });

    it('fails the whole batch at once while the database is unavailable, without a write per row', async () => {
      let calls = 0;
      const batch = new TurnBatch<number, number>(() => {
        calls++;
        return Promise.reject(
          Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
        );
      });
      const answers = await Promise.allSettled([batch.add(1), batch.add(2)]);
      expect(answers.map((a) => a.status)).to.deep.equal(['rejected', 'rejected']);
      expect(calls).to.equal(1);
    });
  });

  describe('on a real PostgreSQL', function () {
    this.timeout(60_000);
    const now = Date.parse('2024-05-01T12:00:00Z');
    let url = '';
    let schemas = 0;
    let store: PostgresStore;

    before(async function () {
      requirePostgres(this);
      url = await (await sharedPostgres()).createDatabase();
    });

    beforeEach(async () => {
      const base = settings(tempDir().dir, {});
      store = await PostgresStore.open(
        {
          ...base,
          store: 'postgres',
          postgres: { url, poolSize: 4, schema: `outcomes_${++schemas}`, leaseSeconds: 60 },
        },
        { clock: () => now },
      );
    });
    afterEach(() => store.close());

    async function due(ids: string[]) {
      await store.accept(ids.map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
      const rows = await store.claim('log', now, ids.length);
      return ids.map((id) => rows.find((r) => r.event.id === id)!);
    }

    it('settles a turn of delivered, retried and dead rows together, each as its own mark says', async () => {
      const [a, b, c] = await due(['a', 'b', 'c']);
      const answers = await Promise.all([
        store.markDelivered(a.id, 1),
        store.markRetry(b.id, 1, now + 5000, 'target said 503'),
        store.markDead(c.id, 1, 'target said 400'),
      ]);
      expect(answers).to.deep.equal([true, true, true]);
      const rows = (await store.list()).rows.map((r) => [r.eventId, r.state, r.attempts, r.lastError ?? null]);
      expect(rows).to.have.deep.members([
        ['a', 'delivered', 1, null],
        ['b', 'pending', 1, 'target said 503'],
        ['c', 'dead', 1, 'target said 400'],
      ]);
      expect(await store.nextDueAt('log')).to.equal(now + 5000);
      // Settled: none of them is leased any more, and a second mark of the same claim changes nothing.
      expect(await store.markDelivered(a.id, 2)).to.equal(false);
    });

    it('records a turn of attempt rows, and a row the server refuses loses only itself', async () => {
      const [a, b] = await due(['a', 'b']);
      const attempt = (deliveryId: number, error?: string) => ({
        deliveryId,
        emitter: 'log',
        attempt: 1,
        startedAt: now,
        durationMs: 3,
        ok: error === undefined,
        ...(error === undefined ? {} : { error }),
      });
      // PostgreSQL text cannot hold a NUL character: the server refuses that row.
      const answers = await Promise.allSettled([
        store.recordAttempt(attempt(a.id)),
        store.recordAttempt(attempt(b.id, 'bad \u0000 byte')),
      ]);
      expect(answers.map((x) => x.status)).to.deep.equal(['fulfilled', 'rejected']);
      // A fresh schema: the two events are seq 1 and 2, in the order they were accepted.
      const recorded = async (seq: number) => (await store.eventDetail(seq))!.attempts.map((x) => x.deliveryId);
      expect(await recorded(1)).to.deep.equal([a.id]);
      expect(await recorded(2)).to.deep.equal([]);
    });
  });
});
