import { expect } from 'chai';
import type { DeliveryStore, StoreOptions } from '../../../src/delivery/store';
import type { DeliveryRecord, DeliverySettings, ListFilter } from '../../../src/delivery/types';
import { UnavailableError } from '../../../src/model/errors';
import { Metrics } from '../../../src/observability/metrics';
import { makeEvent } from '../support';
import { inspectionBehaviour } from './inspection-behaviour';
import { heldPartsBehaviour } from './held-parts-behaviour';
import { tagStateBehaviour } from './tag-state-behaviour';
import { requestLogBehaviour } from './request-log-behaviour';
import { traceContextBehaviour } from './trace-behaviour';

export const HOUR = 3600_000;

/** How a behaviour suite reaches one engine: each test gets an empty store location of its own. */
export interface EngineHarness {
  readonly name: string;
  /** Called before each test: a new, empty location (a file directory, a database schema). */
  fresh(): Promise<void>;
  /** A store on the current location, as a (re)started gateway would open it. */
  open(
    clock: () => number,
    overrides?: Partial<DeliverySettings>,
    metrics?: Metrics,
    options?: Partial<StoreOptions>,
  ): Promise<DeliveryStore>;
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** Every row matching, oldest first, which reads most naturally in expectations. */
export async function rows(store: DeliveryStore, filter: ListFilter = {}): Promise<DeliveryRecord[]> {
  return (await store.list({ limit: 10_000, ...filter })).rows.reverse();
}

async function histogramCountAndSum(h: Metrics['commitBatchSize']): Promise<{ count: number; sum: number }> {
  const { values } = await h.get();
  const pick = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
  return { count: pick('_count'), sum: pick('_sum') };
}

/**
 * What every engine must do, run once per engine: the same assertions, so the dispatcher, the
 * intake and the CLI can rely on the interface and not on an engine.
 */
export function storeBehaviour(harness: EngineHarness): void {
  describe(`delivery store behaviour (${harness.name})`, () => {
    let opened: DeliveryStore[];
    let now: number;
    const clock = () => now;

    async function open(overrides: Partial<DeliverySettings> = {}, metrics?: Metrics): Promise<DeliveryStore> {
      const store = await harness.open(clock, overrides, metrics);
      opened.push(store);
      return store;
    }

    beforeEach(async () => {
      opened = [];
      now = Date.parse('2024-05-01T12:00:00Z');
      await harness.fresh();
    });

    afterEach(async () => {
      for (const store of opened) await store.close();
    });

    it('keeps every accepted event for a store opened later (a restart)', async () => {
      const first = await open();
      await first.accept([
        { event: makeEvent('e1'), emitters: ['log', 'brigade'] },
        { event: makeEvent('e2', { repo: undefined, type: 'quota_exceeded' }), emitters: ['log'] },
      ]);
      const second = await open();
      const all = await rows(second);
      expect(all.map((r) => [r.eventId, r.emitter, r.state])).to.deep.equal([
        ['e1', 'log', 'pending'],
        ['e1', 'brigade', 'pending'],
        ['e2', 'log', 'pending'],
      ]);
      expect(all[2].repo).to.equal(undefined);
      const due = await second.claim('log', now, 10);
      expect(due.map((d) => d.event)).to.deep.equal([
        makeEvent('e1'),
        makeEvent('e2', { repo: undefined, type: 'quota_exceeded' }),
      ]);
    });

    describe('dedup', () => {
      it('answers a repeat within the window as duplicate and stores nothing new', async () => {
        const store = await open();
        const [first] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        now += HOUR - 1000;
        const [again] = await store.accept([{ event: makeEvent('e1'), emitters: ['log', 'brigade'] }]);
        expect(first.duplicate).to.equal(false);
        expect(again.duplicate).to.equal(true);
        expect(await rows(store)).to.have.length(1);
      });

      it('treats the same id from another source as a different event', async () => {
        const store = await open();
        await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        const [other] = await store.accept([
          { event: makeEvent('e1', { source: 'brigade.sh/harbor', provider: 'harbor' }), emitters: ['log'] },
        ]);
        expect(other.duplicate).to.equal(false);
        expect(await rows(store)).to.have.length(2);
      });

      it('remembers keys across a restart', async () => {
        await (await open()).accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        const [again] = await (await open()).accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        expect(again.duplicate).to.equal(true);
      });

      it('accepts the id again once the window has passed', async () => {
        const store = await open({ dedupWindowSeconds: 60 });
        await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        now += 60_000;
        const [later] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        expect(later.duplicate).to.equal(false);
        expect(await rows(store)).to.have.length(2);
        // The window restarts from the second acceptance.
        now += 59_000;
        const [repeat] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        expect(repeat.duplicate).to.equal(true);
      });

      it('dedups within one call and across calls committed together', async () => {
        const store = await open();
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
        expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['x', 'y']);
      });

      it('stores every repeat when the window is 0', async () => {
        const store = await open({ dedupWindowSeconds: 0 });
        await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        const [again] = await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
        expect(again.duplicate).to.equal(false);
        expect(await rows(store)).to.have.length(2);
      });
    });

    describe('group commit', () => {
      it('commits concurrent accepts together and resolves each only after its commit', async () => {
        const metrics = new Metrics();
        const store = await open({}, metrics);
        const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
        const results = await Promise.all(ids.map((id) => store.accept([{ event: makeEvent(id), emitters: ['log'] }])));

        expect(results.map((r) => r[0].event.id)).to.deep.equal(ids);
        expect(results.every((r) => r[0].duplicate === false)).to.equal(true);
        const { count, sum } = await histogramCountAndSum(metrics.commitBatchSize);
        expect(sum).to.equal(50);
        expect(count).to.be.lessThan(50);
        const durations = await histogramCountAndSum(metrics.commitDuration);
        expect(durations.count).to.equal(count);
        // Read through a second store: resolved means committed, not just held by this one.
        const reader = await open();
        expect(await rows(reader)).to.have.length(50);
      });

      it('does not resolve before the commit has happened', async () => {
        const store = await open();
        let resolved = false;
        const accepted = store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]).then(() => {
          resolved = true;
        });
        await Promise.resolve();
        expect(resolved).to.equal(false);
        await accepted;
        expect(await rows(store)).to.have.length(1);
      });
    });

    describe('refusals', () => {
      it('refuses once pending deliveries reach maxPending, and takes events again as they drain', async () => {
        const store = await open({ maxPending: 2 });
        await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        await store.accept([{ event: makeEvent('b'), emitters: ['log'] }]);
        const err = await rejection(store.accept([{ event: makeEvent('c'), emitters: ['log'] }]));
        expect(err).to.be.instanceOf(UnavailableError);
        expect((err as Error).message).to.match(/2 pending, limit 2/);
        expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['a', 'b']);

        // A sender retrying what is already stored still gets its answer.
        const [dup] = await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        expect(dup.duplicate).to.equal(true);

        const [a] = await store.claim('log', now, 1);
        await store.markDelivered(a.id, 1);
        // The pending count may be cached for a second: let it be read again.
        now += 5000;
        const [c] = await store.accept([{ event: makeEvent('c'), emitters: ['log'] }]);
        expect(c.duplicate).to.equal(false);
      });

      it('refuses when closed', async () => {
        const store = await open();
        await store.close();
        expect(store.notReadyReason()).to.match(/closed/);
        expect(await rejection(store.accept([{ event: makeEvent('a'), emitters: ['log'] }]))).to.be.instanceOf(
          UnavailableError,
        );
      });

      it('refuses new events while draining but commits the group already taken in', async () => {
        const store = await open();
        const taken = store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        await store.drain();
        expect(store.notReadyReason()).to.match(/draining/);
        await taken;
        expect(await rejection(store.accept([{ event: makeEvent('b'), emitters: ['log'] }]))).to.be.instanceOf(
          UnavailableError,
        );
        expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['a']);
      });

      it('commits a pending group on close before closing', async () => {
        const store = await open();
        const taken = store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        await store.close();
        await taken;
        expect((await rows(await open())).map((r) => r.eventId)).to.deep.equal(['a']);
      });
    });

    describe('claims', () => {
      it('hands out due rows soonest first, never twice while leased, and hides retries until due', async () => {
        const store = await open();
        await store.accept(['a', 'b', 'c'].map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
        const [a] = await store.claim('log', now, 1);
        expect(a.event.id).to.equal('a');
        expect(a.attempts).to.equal(0);
        expect(a.acceptedAt).to.equal(now);
        const [b, c] = await store.claim('log', now, 10);
        expect([b, c].map((d) => d.event.id)).to.deep.equal(['b', 'c']);
        expect(await store.claim('log', now, 10)).to.deep.equal([]);
        expect(await store.claim('brigade', now, 10)).to.deep.equal([]);
        // Nothing unleased is waiting.
        expect(await store.nextDueAt('log')).to.equal(undefined);

        await store.markRetry(a.id, 1, now + 5000, 'HTTP 503');
        await store.release(b.id);
        expect(await store.nextDueAt('log')).to.equal(now);
        expect((await store.claim('log', now, 10)).map((d) => d.event.id)).to.deep.equal(['b']);
        expect(await store.nextDueAt('log')).to.equal(now + 5000);
        const later = await store.claim('log', now + 5000, 10);
        expect(later.map((d) => [d.event.id, d.attempts])).to.deep.equal([['a', 1]]);
      });

      it('records delivered and dead outcomes, and leaves rows changed meanwhile alone', async () => {
        const store = await open();
        await store.accept(['a', 'b'].map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
        const [a, b] = await store.claim('log', now, 10);
        now += 1000;
        expect(await store.markDelivered(a.id, 2)).to.equal(true);
        expect(await store.markDead(b.id, 3, 'HTTP 400 bad event')).to.equal(true);
        // A second outcome for the same row (an attempt that outlived its timeout) changes nothing.
        expect(await store.markRetry(a.id, 3, now, 'late')).to.equal(false);

        const [ra, rb] = await rows(store);
        expect([ra.state, ra.attempts, ra.deliveredAt, ra.lastError]).to.deep.equal(['delivered', 2, now, undefined]);
        expect([rb.state, rb.attempts, rb.lastError]).to.deep.equal(['dead', 3, 'HTTP 400 bad event']);
        expect(await store.claim('log', now + HOUR, 10)).to.deep.equal([]);
      });

      it('bounds a stored error message', async () => {
        const store = await open();
        await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        const [a] = await store.claim('log', now, 1);
        await store.markDead(a.id, 1, 'x'.repeat(10_000));
        const [row] = await rows(store);
        expect(row.lastError!.length).to.equal(2000);
      });
    });

    describe('target health', () => {
      it('a probe claim takes the soonest pending row whatever its backoff, never one already claimed', async () => {
        const store = await open();
        await store.accept(['a', 'b', 'c'].map((id) => ({ event: makeEvent(id), emitters: ['brigade'] })));
        const [a, b] = await store.claim('brigade', now, 2);
        await store.markRetry(a.id, 1, now + HOUR, 'HTTP 503');
        await store.markRetry(b.id, 1, now + 2 * HOUR, 'HTTP 503');
        const [c] = await store.claim('brigade', now, 1);
        expect(c.event.id).to.equal('c');

        // Nothing is due, yet a probe gets the row whose backoff ends first; c stays with its claim.
        expect(await store.claim('brigade', now, 1)).to.deep.equal([]);
        const probe = await store.claim('brigade', now, 1, { anyDueTime: true });
        expect(probe.map((d) => [d.event.id, d.attempts])).to.deep.equal([['a', 1]]);
        expect(await store.claim('brigade', now, 5, { anyDueTime: true })).to.have.length(1);
        expect(await store.claim('log', now, 5, { anyDueTime: true })).to.deep.equal([]);
      });

      it('resuming a target makes every deferred row of it due now, and only its own', async () => {
        const store = await open();
        await store.accept(['a', 'b', 'c'].map((id) => ({ event: makeEvent(id), emitters: ['brigade', 'knative'] })));
        for (const emitter of ['brigade', 'knative']) {
          for (const d of await store.claim(emitter, now, 10)) await store.markRetry(d.id, 3, now + HOUR, 'down');
        }
        expect(await store.claim('brigade', now, 10)).to.deep.equal([]);

        expect(await store.resumeTarget('brigade', now)).to.equal(3);
        const due = await store.claim('brigade', now, 10);
        expect(due.map((d) => [d.event.id, d.attempts])).to.deep.equal([
          ['a', 3],
          ['b', 3],
          ['c', 3],
        ]);
        expect(await store.claim('knative', now, 10)).to.deep.equal([]);
        expect(await store.nextDueAt('knative')).to.equal(now + HOUR);
      });

      it("records each target's circuit for another process to read", async () => {
        const store = await open();
        expect(await store.targets()).to.deep.equal([]);
        await store.saveTarget({
          emitter: 'knative',
          state: 'open',
          since: now,
          lastError: 'HTTP 503',
          updatedAt: now,
        });
        await store.saveTarget({ emitter: 'brigade', state: 'closed', since: now - HOUR, updatedAt: now });
        await store.saveTarget({
          emitter: 'knative',
          state: 'open',
          since: now,
          lastError: 'ECONNREFUSED',
          updatedAt: now + 2000,
        });
        const other = await open();
        expect(await other.targets()).to.deep.equal([
          { emitter: 'brigade', state: 'closed', since: now - HOUR, updatedAt: now },
          { emitter: 'knative', state: 'open', since: now, lastError: 'ECONNREFUSED', updatedAt: now + 2000 },
        ]);
      });
    });

    describe('operator commands', () => {
      async function seed(store: DeliveryStore) {
        await store.accept([
          { event: makeEvent('e1'), emitters: ['log', 'brigade'] },
          { event: makeEvent('e2', { source: 'brigade.sh/harbor', provider: 'harbor' }), emitters: ['brigade'] },
          { event: makeEvent('e3'), emitters: ['knative'] },
        ]);
        const byKey = new Map((await rows(store)).map((r) => [`${r.eventId}/${r.emitter}`, r.id]));
        await store.claim('brigade', now, 10);
        await store.claim('log', now, 10);
        await store.markDead(byKey.get('e1/brigade')!, 12, 'exhausted after 12 attempts: HTTP 503');
        await store.markDead(byKey.get('e2/brigade')!, 1, 'HTTP 403');
        await store.markDelivered(byKey.get('e1/log')!, 1);
        return byKey;
      }

      it('lists newest first with filters on state, emitter, event id, source, ids and limit', async () => {
        const store = await open();
        const ids = await seed(store);
        const keys = async (filter: ListFilter = {}) =>
          (await store.list(filter)).rows.map((r) => `${r.eventId}/${r.emitter}`);
        expect(await keys()).to.deep.equal(['e3/knative', 'e2/brigade', 'e1/brigade', 'e1/log']);
        expect(await keys({ state: 'dead' })).to.deep.equal(['e2/brigade', 'e1/brigade']);
        expect(await keys({ emitter: 'brigade', state: 'dead', source: 'brigade.sh/harbor' })).to.deep.equal([
          'e2/brigade',
        ]);
        expect(await keys({ eventId: 'e1' })).to.deep.equal(['e1/brigade', 'e1/log']);
        expect(await keys({ ids: [ids.get('e3/knative')!] })).to.deep.equal(['e3/knative']);

        const cut = await store.list({ limit: 1 });
        expect(cut.rows.map((r) => r.eventId)).to.deep.equal(['e3']);
        expect(cut.truncated).to.equal(true);
        expect((await store.list({ limit: 4 })).truncated).to.equal(false);

        const [dead] = (await store.list({ eventId: 'e1', emitter: 'brigade' })).rows;
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
        const store = await open();
        await seed(store);
        now += 5000;
        expect(await store.replay({ source: 'brigade.sh/acr' })).to.equal(1);
        const [replayed] = (await store.list({ eventId: 'e1', emitter: 'brigade' })).rows;
        expect(replayed).to.include({ state: 'pending', attempts: 0, nextAttemptAt: now, updatedAt: now });
        expect((await rows(store, { state: 'dead' })).map((r) => r.eventId)).to.deep.equal(['e2']);
        expect((await store.claim('brigade', now, 10)).map((d) => d.event.id)).to.deep.equal(['e1']);
        expect(await store.replay()).to.equal(1);
        expect(await store.replay()).to.equal(0);
      });

      it('drops pending and dead rows but never delivered history', async () => {
        const store = await open();
        await seed(store);
        expect(await store.drop({ emitter: 'brigade', state: 'pending' })).to.equal(0);
        expect(await store.drop({ eventId: 'e2' })).to.equal(1);
        expect(await store.drop({ eventId: 'e1' })).to.equal(1);
        expect((await rows(store)).map((r) => `${r.eventId}/${r.emitter}/${r.state}`)).to.deep.equal([
          'e1/log/delivered',
          'e3/knative/pending',
        ]);
        expect(await store.drop()).to.equal(1);
        expect((await rows(store)).map((r) => r.state)).to.deep.equal(['delivered']);
      });

      it('counts pending and dead per emitter, and feeds the metrics gauges', async () => {
        const metrics = new Metrics();
        const store = await open({}, metrics);
        metrics.deliveryCounts = () => store.counts();
        await seed(store);
        expect(await store.counts()).to.deep.equal([
          { emitter: 'brigade', pending: 0, dead: 2 },
          { emitter: 'knative', pending: 1, dead: 0 },
        ]);
        const text = await metrics.registry.metrics();
        expect(text).to.include('registry_gateway_deliveries_pending{emitter="knative"} 1');
        expect(text).to.include('registry_gateway_deliveries_dead_lettered{emitter="brigade"} 2');
      });

      it('sees what another store (the CLI) changed while the gateway has it open', async () => {
        const gateway = await open();
        await seed(gateway);
        const cli = await open();
        expect(await cli.replay({ emitter: 'brigade' })).to.equal(2);
        await cli.close();
        expect((await gateway.claim('brigade', now, 10)).map((d) => d.event.id)).to.deep.equal(['e1', 'e2']);
      });
    });

    describe('prune', () => {
      it('removes old delivered rows and orphaned events but keeps dedup keys within the window', async () => {
        const store = await open({ deliveredRetentionSeconds: 60, dedupWindowSeconds: 3600 });
        await store.accept([
          { event: makeEvent('done'), emitters: ['log'] },
          { event: makeEvent('half'), emitters: ['log', 'brigade'] },
          { event: makeEvent('waiting'), emitters: ['brigade'] },
        ]);
        for (const d of await store.claim('log', now, 10)) await store.markDelivered(d.id, 1);

        const none = { deliveries: 0, events: 0, dedupKeys: 0, requests: 0 };
        expect(await store.prune(now + 59_000)).to.deep.equal(none);
        expect(await store.prune(now + 60_001)).to.deep.equal({ ...none, deliveries: 2, events: 1 });
        expect((await rows(store)).map((r) => `${r.eventId}/${r.emitter}`)).to.deep.equal([
          'half/brigade',
          'waiting/brigade',
        ]);

        // The event is gone but a sender's retry is still recognised.
        now += 120_000;
        const [retry] = await store.accept([{ event: makeEvent('done'), emitters: ['log'] }]);
        expect(retry.duplicate).to.equal(true);

        expect(await store.prune(now + HOUR)).to.deep.equal({ ...none, dedupKeys: 3 });
        const [afterWindow] = await store.accept([{ event: makeEvent('done'), emitters: ['log'] }]);
        expect(afterWindow.duplicate).to.equal(false);
      });

      it('removes events whose rows the operator dropped', async () => {
        const store = await open();
        await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
        await store.drop({ eventId: 'a' });
        expect((await store.prune(now)).events).to.equal(1);
      });
    });

    tagStateBehaviour({ open: (overrides) => open(overrides) });

    traceContextBehaviour({ open: () => open(), now: () => now });

    heldPartsBehaviour({
      open: async (options, metrics) => {
        const store = await harness.open(clock, {}, metrics, options);
        opened.push(store);
        return store;
      },
      now: () => now,
      advance: (ms) => {
        now += ms;
      },
    });

    requestLogBehaviour({
      open: async (options) => {
        const store = await harness.open(clock, {}, undefined, options);
        opened.push(store);
        return store;
      },
      now: () => now,
    });

    inspectionBehaviour({
      open: (overrides) => open(overrides),
      now: () => now,
      advance: (ms) => {
        now += ms;
      },
    });
  });
}
