import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { DeliveryStore, STORE_FILE } from '../../src/delivery/store';
import type { DeliverySettings } from '../../src/delivery/types';
import { UnavailableError } from '../../src/model/errors';
import { Metrics } from '../../src/observability/metrics';
import { makeEvent, settings, tempDir } from './support';

const HOUR = 3600_000;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function histogramCountAndSum(h: Metrics['commitBatchSize']): Promise<{ count: number; sum: number }> {
  const { values } = await h.get();
  const pick = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
  return { count: pick('_count'), sum: pick('_sum') };
}

describe('DeliveryStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let opened: DeliveryStore[];
  let now: number;
  const clock = () => now;

  function open(overrides: Partial<DeliverySettings> = {}, metrics?: Metrics): DeliveryStore {
    const store = DeliveryStore.open(settings(tmp.dir, overrides), { clock, metrics });
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    tmp = tempDir();
    opened = [];
    now = Date.parse('2024-05-01T12:00:00Z');
  });

  afterEach(async () => {
    for (const store of opened) await store.close();
    tmp.cleanup();
  });

  describe('the file', () => {
    it('creates the directory and uses WAL with full fsync', () => {
      const nested = path.join(tmp.dir, 'a', 'b');
      const store = DeliveryStore.open(settings(nested));
      opened.push(store);
      expect(store.file).to.equal(path.join(nested, STORE_FILE));
      // synchronous is per connection: read the store's own (2 = FULL, an fsync per commit).
      const own = (store as unknown as { db: Database.Database }).db;
      expect(own.pragma('synchronous', { simple: true })).to.equal(2);
      const db = new Database(store.file, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
      } finally {
        db.close();
      }
    });

    it('keeps every accepted event when the process dies without closing', async () => {
      const first = open();
      await first.accept([
        { event: makeEvent('e1'), emitters: ['log', 'brigade'] },
        { event: makeEvent('e2', { repo: undefined, type: 'quota_exceeded' }), emitters: ['log'] },
      ]);
      // No close(): a second instance reads the file as a restarted gateway would.
      const second = open();
      const rows = second.list();
      expect(rows.map((r) => [r.eventId, r.emitter, r.state])).to.deep.equal([
        ['e1', 'log', 'pending'],
        ['e1', 'brigade', 'pending'],
        ['e2', 'log', 'pending'],
      ]);
      expect(rows[2].repo).to.equal(undefined);
      const due = second.due('log', now, 10);
      expect(due.map((d) => d.event)).to.deep.equal([
        makeEvent('e1'),
        makeEvent('e2', { repo: undefined, type: 'quota_exceeded' }),
      ]);
    });

    it('keeps an acknowledged event through kill -9 of the process that stored it', function () {
      this.timeout(60_000);
      const script = `
        const { DeliveryStore } = require(${JSON.stringify(path.resolve(__dirname, '../../src/delivery/store.ts'))});
        const store = DeliveryStore.open(${JSON.stringify(settings(tmp.dir))});
        const event = { id: 'killed', provider: 'acr', source: 'brigade.sh/acr', type: 'push',
          registry: 'r.example.com', repo: 'app', time: '2024-05-01T12:00:00Z', payload: {} };
        store.accept([{ event, emitters: ['log'] }]).then(() => process.kill(process.pid, 'SIGKILL'));
      `;
      let signal: string | null = null;
      try {
        execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: path.resolve(__dirname, '../..'), stdio: 'pipe' });
      } catch (err) {
        signal = (err as { signal: string | null }).signal;
      }
      expect(signal).to.equal('SIGKILL');
      const rows = open().list();
      expect(rows.map((r) => [r.eventId, r.emitter, r.state])).to.deep.equal([['killed', 'log', 'pending']]);
    });
  });

  describe('dedup', () => {
    it('answers a repeat within the window as duplicate and stores nothing new', async () => {
      const store = open();
      const [first] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      now += HOUR - 1000;
      const [again] = await store.accept([{ event: makeEvent('e1'), emitters: ['log', 'brigade'] }]);
      expect(first.duplicate).to.equal(false);
      expect(again.duplicate).to.equal(true);
      expect(store.list()).to.have.length(1);
    });

    it('treats the same id from another source as a different event', async () => {
      const store = open();
      await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      const [other] = await store.accept([
        { event: makeEvent('e1', { source: 'brigade.sh/harbor', provider: 'harbor' }), emitters: ['log'] },
      ]);
      expect(other.duplicate).to.equal(false);
      expect(store.list()).to.have.length(2);
    });

    it('remembers keys across a restart', async () => {
      await open().accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      const [again] = await open().accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      expect(again.duplicate).to.equal(true);
    });

    it('accepts the id again once the window has passed', async () => {
      const store = open({ dedupWindowSeconds: 60 });
      await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      now += 60_000;
      const [later] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      expect(later.duplicate).to.equal(false);
      expect(store.list()).to.have.length(2);
      // The window restarts from the second acceptance.
      now += 59_000;
      const [repeat] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      expect(repeat.duplicate).to.equal(true);
    });

    it('dedups within one call and across calls committed together', async () => {
      const store = open();
      const [inOneCall, a, b] = await Promise.all([
        store.accept([
          { event: makeEvent('x'), emitters: ['log'] },
          { event: makeEvent('x'), emitters: ['log'] },
        ]),
        store.accept([{ event: makeEvent('y'), emitters: ['log'] }]),
        store.accept([{ event: makeEvent('y'), emitters: ['log'] }]),
      ]);
      expect(inOneCall.map((r) => r.duplicate)).to.deep.equal([false, true]);
      expect([a[0].duplicate, b[0].duplicate]).to.deep.equal([false, true]);
      expect(store.list().map((r) => r.eventId)).to.deep.equal(['x', 'y']);
    });

    it('stores every repeat when the window is 0', async () => {
      const store = open({ dedupWindowSeconds: 0 });
      await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      const [again] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      expect(again.duplicate).to.equal(false);
      expect(store.list()).to.have.length(2);
    });
  });

  describe('group commit', () => {
    it('commits concurrent accepts together and resolves each only after its commit', async () => {
      const metrics = new Metrics();
      const store = open({}, metrics);
      const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
      const results = await Promise.all(ids.map((id) => store.accept([{ event: makeEvent(id), emitters: ['log'] }])));

      expect(results.map((r) => r[0].event.id)).to.deep.equal(ids);
      expect(results.every((r) => r[0].duplicate === false)).to.equal(true);
      const { count, sum } = await histogramCountAndSum(metrics.commitBatchSize);
      expect(sum).to.equal(50);
      expect(count).to.be.lessThan(50);
      const durations = await histogramCountAndSum(metrics.commitDuration);
      expect(durations.count).to.equal(count);
      // Read through a separate connection: resolved means on disk, not just in this process.
      const db = new Database(store.file, { readonly: true });
      try {
        expect(db.prepare('SELECT count(*) FROM events').pluck().get()).to.equal(50);
      } finally {
        db.close();
      }
    });

    it('does not resolve before the commit has happened', async () => {
      const store = open();
      let resolved = false;
      const accepted = store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]).then(() => {
        resolved = true;
      });
      await Promise.resolve();
      expect(resolved).to.equal(false);
      expect(store.list()).to.have.length(0);
      await accepted;
      expect(store.list()).to.have.length(1);
    });
  });

  describe('refusals', () => {
    it('refuses once pending deliveries reach maxPending, and takes events again as they drain', async () => {
      const store = open({ maxPending: 2 });
      await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
      await store.accept([{ event: makeEvent('b'), emitters: ['log'] }]);
      const err = await rejection(store.accept([{ event: makeEvent('c'), emitters: ['log'] }]));
      expect(err).to.be.instanceOf(UnavailableError);
      expect((err as Error).message).to.match(/2 pending, limit 2/);
      expect(store.list().map((r) => r.eventId)).to.deep.equal(['a', 'b']);

      // A sender retrying what is already stored still gets its answer.
      const [dup] = await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
      expect(dup.duplicate).to.equal(true);

      const [a] = store.due('log', now, 1);
      store.markDelivered(a.id, 1);
      const [c] = await store.accept([{ event: makeEvent('c'), emitters: ['log'] }]);
      expect(c.duplicate).to.equal(false);
    });

    it('refuses only the over-limit call of a commit group, all of its events together', async () => {
      const store = open({ maxPending: 1 });
      const [first, second] = await Promise.allSettled([
        store.accept([{ event: makeEvent('a'), emitters: ['log'] }]),
        store.accept([
          { event: makeEvent('b'), emitters: ['log'] },
          { event: makeEvent('c'), emitters: ['log'] },
        ]),
      ]);
      expect(first.status).to.equal('fulfilled');
      expect(second.status).to.equal('rejected');
      expect(store.list().map((r) => r.eventId)).to.deep.equal(['a']);
    });

    it('refuses when closed', async () => {
      const store = open();
      await store.close();
      expect(store.closed).to.equal(true);
      expect(await rejection(store.accept([{ event: makeEvent('a'), emitters: ['log'] }]))).to.be.instanceOf(
        UnavailableError,
      );
    });

    it('refuses new events while draining but commits the group already taken in', async () => {
      const store = open();
      const taken = store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
      await store.drain();
      expect(store.accepting).to.equal(false);
      await taken;
      expect(await rejection(store.accept([{ event: makeEvent('b'), emitters: ['log'] }]))).to.be.instanceOf(
        UnavailableError,
      );
      expect(store.list().map((r) => r.eventId)).to.deep.equal(['a']);
    });

    it('commits a pending group on close before closing', async () => {
      const store = open();
      const taken = store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
      await store.close();
      await taken;
      expect(open().list().map((r) => r.eventId)).to.deep.equal(['a']);
    });

    it('refuses with 503 rather than acknowledging when the disk is full', async () => {
      const store = open();
      await store.accept([{ event: makeEvent('small'), emitters: ['log'] }]);
      // Cap the file at its current size: the next write needing a new page gets SQLITE_FULL,
      // exactly what a full disk produces.
      const db = (store as unknown as { db: Database.Database }).db;
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);

      const big = makeEvent('big', { payload: { blob: 'x'.repeat(256 * 1024) } });
      const [refused, alongside] = await Promise.allSettled([
        store.accept([{ event: big, emitters: ['log'] }]),
        store.accept([{ event: makeEvent('same-group'), emitters: ['log'] }]),
      ]);
      expect(refused.status).to.equal('rejected');
      expect((refused as PromiseRejectedResult).reason).to.be.instanceOf(UnavailableError);
      expect((refused as PromiseRejectedResult).reason.message).to.match(/SQLITE_FULL/);
      // Its commit group failed as a whole, so nothing in it may be acknowledged.
      expect(alongside.status).to.equal('rejected');
      expect(store.list().map((r) => r.eventId)).to.deep.equal(['small']);

      db.pragma('max_page_count = 1073741823');
      const [retried] = await store.accept([{ event: big, emitters: ['log'] }]);
      expect(retried.duplicate).to.equal(false);
    });
  });

  describe('dispatcher queries', () => {
    it('returns due rows soonest first, honours limit and exclusions, and hides retries until due', async () => {
      const store = open();
      await store.accept(['a', 'b', 'c'].map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
      const [a, b, c] = store.due('log', now, 10);
      expect([a, b, c].map((d) => d.event.id)).to.deep.equal(['a', 'b', 'c']);
      expect(a.attempts).to.equal(0);
      expect(a.acceptedAt).to.equal(now);
      expect(store.due('log', now, 1).map((d) => d.event.id)).to.deep.equal(['a']);
      expect(store.due('log', now, 10, [a.id, c.id]).map((d) => d.event.id)).to.deep.equal(['b']);
      expect(store.due('brigade', now, 10)).to.deep.equal([]);

      store.markRetry(a.id, 1, now + 5000, 'HTTP 503');
      expect(store.due('log', now, 10).map((d) => d.event.id)).to.deep.equal(['b', 'c']);
      expect(store.nextDueAt('log', [b.id, c.id])).to.equal(now + 5000);
      const later = store.due('log', now + 5000, 10);
      expect(later.map((d) => [d.event.id, d.attempts])).to.deep.equal([
        ['b', 0],
        ['c', 0],
        ['a', 1],
      ]);
    });

    it('records delivered and dead outcomes, and leaves rows changed meanwhile alone', async () => {
      const store = open();
      await store.accept(['a', 'b'].map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
      const [a, b] = store.due('log', now, 10);
      now += 1000;
      expect(store.markDelivered(a.id, 2)).to.equal(true);
      expect(store.markDead(b.id, 3, 'HTTP 400 bad event')).to.equal(true);
      // A second outcome for the same row (an attempt that outlived its timeout) changes nothing.
      expect(store.markRetry(a.id, 3, now, 'late')).to.equal(false);

      const [ra, rb] = store.list();
      expect([ra.state, ra.attempts, ra.deliveredAt, ra.lastError]).to.deep.equal(['delivered', 2, now, undefined]);
      expect([rb.state, rb.attempts, rb.lastError]).to.deep.equal(['dead', 3, 'HTTP 400 bad event']);
      expect(store.due('log', now + HOUR, 10)).to.deep.equal([]);
    });
  });

  describe('operator commands', () => {
    async function seed(store: DeliveryStore) {
      await store.accept([
        { event: makeEvent('e1'), emitters: ['log', 'brigade'] },
        { event: makeEvent('e2', { source: 'brigade.sh/harbor', provider: 'harbor' }), emitters: ['brigade'] },
        { event: makeEvent('e3'), emitters: ['knative'] },
      ]);
      const byKey = new Map(store.list().map((r) => [`${r.eventId}/${r.emitter}`, r.id]));
      store.markDead(byKey.get('e1/brigade')!, 12, 'exhausted after 12 attempts: HTTP 503');
      store.markDead(byKey.get('e2/brigade')!, 1, 'HTTP 403');
      store.markDelivered(byKey.get('e1/log')!, 1);
      return byKey;
    }

    it('lists with filters on state, emitter, event id, source, ids and limit', async () => {
      const store = open();
      const ids = await seed(store);
      const keys = (rows: ReturnType<DeliveryStore['list']>) => rows.map((r) => `${r.eventId}/${r.emitter}`);
      expect(keys(store.list())).to.deep.equal(['e1/log', 'e1/brigade', 'e2/brigade', 'e3/knative']);
      expect(keys(store.list({ state: 'dead' }))).to.deep.equal(['e1/brigade', 'e2/brigade']);
      expect(keys(store.list({ emitter: 'brigade', state: 'dead', source: 'brigade.sh/harbor' }))).to.deep.equal([
        'e2/brigade',
      ]);
      expect(keys(store.list({ eventId: 'e1' }))).to.deep.equal(['e1/log', 'e1/brigade']);
      expect(keys(store.list({ ids: [ids.get('e3/knative')!] }))).to.deep.equal(['e3/knative']);
      expect(keys(store.list({ limit: 1 }))).to.deep.equal(['e1/log']);

      const dead = store.list({ eventId: 'e1', emitter: 'brigade' })[0];
      expect(dead).to.include({
        source: 'brigade.sh/acr',
        provider: 'acr',
        type: 'push',
        registry: 'myreg.azurecr.io',
        repo: 'library/app',
        state: 'dead',
        attempts: 12,
        lastError: 'exhausted after 12 attempts: HTTP 503',
        acceptedAt: now,
      });
    });

    it('replays only dead rows matching the filter, as fresh and due now', async () => {
      const store = open();
      await seed(store);
      now += 5000;
      expect(store.replay({ source: 'brigade.sh/acr' })).to.equal(1);
      const replayed = store.list({ eventId: 'e1', emitter: 'brigade' })[0];
      expect(replayed).to.include({ state: 'pending', attempts: 0, nextAttemptAt: now, updatedAt: now });
      expect(store.list({ state: 'dead' }).map((r) => r.eventId)).to.deep.equal(['e2']);
      expect(store.due('brigade', now, 10).map((d) => d.event.id)).to.deep.equal(['e1']);
      expect(store.replay()).to.equal(1);
      expect(store.replay()).to.equal(0);
    });

    it('drops pending and dead rows but never delivered history', async () => {
      const store = open();
      await seed(store);
      expect(store.drop({ emitter: 'brigade', state: 'pending' })).to.equal(0);
      expect(store.drop({ eventId: 'e2' })).to.equal(1);
      expect(store.drop({ eventId: 'e1' })).to.equal(1);
      expect(store.list().map((r) => `${r.eventId}/${r.emitter}/${r.state}`)).to.deep.equal([
        'e1/log/delivered',
        'e3/knative/pending',
      ]);
      expect(store.drop()).to.equal(1);
      expect(store.list().map((r) => r.state)).to.deep.equal(['delivered']);
    });

    it('counts pending and dead per emitter, and feeds the metrics gauges', async () => {
      const metrics = new Metrics();
      const store = open({}, metrics);
      await seed(store);
      expect(store.counts()).to.deep.equal([
        { emitter: 'brigade', pending: 0, dead: 2 },
        { emitter: 'knative', pending: 1, dead: 0 },
      ]);
      const text = await metrics.registry.metrics();
      expect(text).to.include('registry_gateway_deliveries_pending{emitter="knative"} 1');
      expect(text).to.include('registry_gateway_deliveries_dead_lettered{emitter="brigade"} 2');
    });

    it('sees what another connection (the CLI) changed while the gateway has the file open', async () => {
      const gateway = open();
      await seed(gateway);
      const cli = DeliveryStore.open(settings(tmp.dir), { clock });
      try {
        expect(cli.replay({ emitter: 'brigade' })).to.equal(2);
      } finally {
        await cli.close();
      }
      expect(gateway.due('brigade', now, 10).map((d) => d.event.id)).to.deep.equal(['e1', 'e2']);
    });
  });

  describe('prune', () => {
    it('removes old delivered rows and orphaned events but keeps dedup keys within the window', async () => {
      const store = open({ deliveredRetentionSeconds: 60, dedupWindowSeconds: 3600 });
      await store.accept([
        { event: makeEvent('done'), emitters: ['log'] },
        { event: makeEvent('half'), emitters: ['log', 'brigade'] },
        { event: makeEvent('waiting'), emitters: ['brigade'] },
      ]);
      for (const d of store.due('log', now, 10)) store.markDelivered(d.id, 1);

      expect(store.prune(now + 59_000)).to.deep.equal({ deliveries: 0, events: 0, dedupKeys: 0 });
      expect(store.prune(now + 60_001)).to.deep.equal({ deliveries: 2, events: 1, dedupKeys: 0 });
      expect(store.list().map((r) => `${r.eventId}/${r.emitter}`)).to.deep.equal(['half/brigade', 'waiting/brigade']);

      // The event is gone but a sender's retry is still recognised.
      now += 120_000;
      const [retry] = await store.accept([{ event: makeEvent('done'), emitters: ['log'] }]);
      expect(retry.duplicate).to.equal(true);

      expect(store.prune(now + HOUR)).to.deep.equal({ deliveries: 0, events: 0, dedupKeys: 3 });
      const [afterWindow] = await store.accept([{ event: makeEvent('done'), emitters: ['log'] }]);
      expect(afterWindow.duplicate).to.equal(false);
    });

    it('removes events whose rows the operator dropped', async () => {
      const store = open();
      await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
      store.drop({ eventId: 'a' });
      expect(store.prune(now).events).to.equal(1);
    });
  });
});
