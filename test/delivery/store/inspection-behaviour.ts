import { expect } from 'chai';
import type { DeliveryStore } from '../../../src/delivery/store';
import type { AttemptRecord, DeliverySettings } from '../../../src/delivery/types';
import { makeEvent } from '../support';

/** What the inspection suite needs of the behaviour suite around it. */
export interface InspectionContext {
  open(overrides?: Partial<DeliverySettings>): Promise<DeliveryStore>;
  now(): number;
  advance(ms: number): void;
}

function attempt(deliveryId: number, emitter: string, n: number, at: number, failure?: string): AttemptRecord {
  const record: AttemptRecord = { deliveryId, emitter, attempt: n, startedAt: at, durationMs: 12, ok: !failure };
  if (failure) {
    record.error = failure;
    record.status = 503;
  }
  return record;
}

/** The console's reads, run on each engine by the store behaviour suite. */
export function inspectionBehaviour(ctx: InspectionContext): void {
  describe('console inspection', () => {
    it('lists events newest first with each delivery state, one keyset page at a time', async () => {
      const store = await ctx.open();
      for (let i = 1; i <= 5; i++) {
        await store.accept([{ event: makeEvent(`e${i}`), emitters: i === 3 ? ['log', 'brigade'] : ['log'] }]);
      }
      const first = await store.listEvents({ limit: 2 });
      expect(first.events.map((e) => e.id)).to.deep.equal(['e5', 'e4']);
      const second = await store.listEvents({ limit: 2, before: first.nextBefore });
      expect(second.events.map((e) => e.id)).to.deep.equal(['e3', 'e2']);
      expect(second.events[0].deliveries).to.deep.equal([
        { emitter: 'log', state: 'pending', attempts: 0 },
        { emitter: 'brigade', state: 'pending', attempts: 0 },
      ]);
      const last = await store.listEvents({ limit: 2, before: second.nextBefore });
      expect(last.events.map((e) => e.id)).to.deep.equal(['e1']);
      expect(last.nextBefore).to.equal(undefined);
      expect(last.events[0]).to.include({
        provider: 'acr',
        registry: 'myreg.azurecr.io',
        repo: 'library/app',
        tag: 'v1',
      });
    });

    it('filters by provider, registry, repo, tag, type, event id and delivery state', async () => {
      const store = await ctx.open();
      await store.accept([
        { event: makeEvent('a'), emitters: ['log'] },
        { event: makeEvent('b', { provider: 'harbor', source: 'brigade.sh/harbor' }), emitters: ['log'] },
        { event: makeEvent('c', { registry: 'other.example.com' }), emitters: ['log'] },
        { event: makeEvent('d', { repo: 'team/api', tag: 'v2' }), emitters: ['log'] },
        { event: makeEvent('e', { type: 'delete', tag: undefined }), emitters: ['log'] },
      ]);
      const ids = async (query: Parameters<DeliveryStore['listEvents']>[0]) =>
        (await store.listEvents(query)).events.map((e) => e.id);
      expect(await ids({ provider: 'harbor' })).to.deep.equal(['b']);
      expect(await ids({ registry: 'other.example.com' })).to.deep.equal(['c']);
      expect(await ids({ repo: 'team/api' })).to.deep.equal(['d']);
      expect(await ids({ tag: 'v2' })).to.deep.equal(['d']);
      expect(await ids({ type: 'delete' })).to.deep.equal(['e']);
      expect(await ids({ eventId: 'c' })).to.deep.equal(['c']);
      expect(await ids({ provider: 'acr', tag: 'v1' })).to.deep.equal(['c', 'a']);

      const [due] = (await store.claim('log', ctx.now(), 10)).filter((d) => d.event.id === 'b');
      await store.markDead(due.id, 1, 'refused');
      expect(await ids({ state: 'dead' })).to.deep.equal(['b']);
      expect(await ids({ state: 'pending' })).to.deep.equal(['e', 'd', 'c', 'a']);
    });

    it('shows one event with its payload, deliveries and every attempt, oldest first', async () => {
      const store = await ctx.open();
      const event = makeEvent('x', { payload: { note: '<script>alert(1)</script>', nested: [1, { a: 'b' }] } });
      await store.accept([{ event, emitters: ['log', 'brigade'] }]);
      const [listed] = (await store.listEvents()).events;
      const [due] = await store.claim('brigade', ctx.now(), 1);
      await store.recordAttempt(attempt(due.id, 'brigade', 1, ctx.now(), 'brigade answered 503'));
      await store.markRetry(due.id, 1, ctx.now(), 'brigade answered 503');
      const [again] = await store.claim('brigade', ctx.now(), 1);
      await store.recordAttempt(attempt(again.id, 'brigade', 2, ctx.now() + 1000));
      await store.markDelivered(again.id, 2);

      const detail = await store.eventDetail(listed.seq);
      expect(detail?.event).to.deep.equal(event);
      expect(detail?.deliveries.map((d) => [d.emitter, d.state, d.attempts])).to.deep.equal([
        ['log', 'pending', 0],
        ['brigade', 'delivered', 2],
      ]);
      expect(detail?.attempts).to.deep.equal([
        attempt(due.id, 'brigade', 1, ctx.now(), 'brigade answered 503'),
        attempt(due.id, 'brigade', 2, ctx.now() + 1000),
      ]);
      expect(await store.eventDetail(listed.seq + 1000)).to.equal(undefined);
    });

    it('keeps what each attempt sent and got back, and whether it was a probe that counted', async () => {
      const store = await ctx.open();
      await store.accept([{ event: makeEvent('answers'), emitters: ['webhook/a'] }]);
      const [listed] = (await store.listEvents()).events;
      const [due] = await store.claim('webhook/a', ctx.now(), 1);
      const body = '<script>alert(1)</script> ünïcode';
      const refused: AttemptRecord = {
        ...attempt(due.id, 'webhook/a', 0, ctx.now(), 'webhook/a answered 503'),
        probe: true,
        counted: false,
        exchanges: [
          {
            request: { method: 'POST', url: 'https://hooks.example.com/in', headers: { 'content-type': 'json' } },
            answer: { status: 503, headers: { 'retry-after': '5' }, body, truncated: true },
          },
          { request: { method: 'GET', url: 'https://hooks.example.com/x', headers: {} }, error: 'ECONNRESET' },
        ],
      };
      await store.recordAttempt(refused);
      const delivered: AttemptRecord = { ...attempt(due.id, 'webhook/a', 1, ctx.now() + 10), probe: true };
      await store.recordAttempt(delivered);
      await store.markDelivered(due.id, 1);
      const detail = await store.eventDetail(listed.seq);
      expect(detail?.attempts).to.deep.equal([refused, delivered]);
      // The row's count is the number of counted attempts.
      expect(detail?.deliveries[0].attempts).to.equal(detail?.attempts.filter((a) => a.counted !== false).length);
    });

    it('retries a pending row now and sends a delivered one again as a new row with its note', async () => {
      const store = await ctx.open();
      await store.accept([{ event: makeEvent('again'), emitters: ['log', 'brigade'] }]);
      const [listed] = (await store.listEvents()).events;
      const [log] = await store.claim('log', ctx.now(), 1);
      await store.markDelivered(log.id, 1);
      const [brigade] = await store.claim('brigade', ctx.now(), 1);
      await store.markRetry(brigade.id, 1, ctx.now() + 3_600_000, 'brigade answered 503');
      expect(await store.claim('brigade', ctx.now(), 1)).to.deep.equal([]);

      // Only pending rows are made due; only delivered rows are sent again.
      expect(await store.retryNow([brigade.id, log.id], ctx.now())).to.equal(1);
      expect((await store.claim('brigade', ctx.now(), 1)).map((d) => d.id)).to.deep.equal([brigade.id]);
      expect(await store.sendAgain([brigade.id, log.id], 'sent again by alice', ctx.now())).to.equal(1);

      const detail = await store.eventDetail(listed.seq);
      expect(detail?.deliveries.map((d) => [d.emitter, d.state, d.attempts, d.note])).to.deep.equal([
        ['log', 'delivered', 1, undefined],
        ['brigade', 'pending', 1, undefined],
        ['log', 'pending', 0, 'sent again by alice'],
      ]);
      const [resent] = await store.claim('log', ctx.now(), 1);
      expect(resent.event.id).to.equal('again');
      expect(resent.id).to.not.equal(log.id);
      expect(await store.retryNow([], ctx.now())).to.equal(0);
      expect(await store.sendAgain([], 'x', ctx.now())).to.equal(0);
    });

    it('finds the dead rows of the events a console filter selects', async () => {
      const store = await ctx.open();
      await store.accept([
        { event: makeEvent('d1', { repo: 'team/api' }), emitters: ['log', 'brigade'] },
        { event: makeEvent('d2', { repo: 'team/web' }), emitters: ['log'] },
        { event: makeEvent('d3', { repo: 'team/api' }), emitters: ['log'] },
      ]);
      const claimed = await store.claim('log', ctx.now(), 10);
      for (const row of claimed) await store.markDead(row.id, 1, 'refused');
      const [brigade] = await store.claim('brigade', ctx.now(), 1);
      await store.markDelivered(brigade.id, 1);
      const byEvent = new Map(claimed.map((d) => [d.event.id, d.id]));
      expect(await store.deadIds({ repo: 'team/api' })).to.deep.equal([byEvent.get('d1'), byEvent.get('d3')]);
      expect(await store.deadIds({ repo: 'team/api', before: 1 })).to.have.length(2);
      expect(await store.deadIds({})).to.have.length(3);
      expect(await store.deadIds({ repo: 'nothing' })).to.deep.equal([]);
    });

    it('sums each target: counts, recent deliveries and the newest failure', async () => {
      const store = await ctx.open();
      await store.accept(['a', 'b', 'c', 'd'].map((id) => ({ event: makeEvent(id), emitters: ['log', 'brigade'] })));
      const log = await store.claim('log', ctx.now(), 10);
      await store.markDelivered(log[0].id, 1);
      ctx.advance(10 * 60_000);
      await store.markDelivered(log[1].id, 1);
      const brigade = await store.claim('brigade', ctx.now(), 10);
      await store.recordAttempt(attempt(brigade[0].id, 'brigade', 1, ctx.now() - 5000, 'older failure'));
      await store.recordAttempt(attempt(brigade[1].id, 'brigade', 1, ctx.now(), 'newest failure'));
      await store.markDead(brigade[1].id, 1, 'newest failure');

      const health = await store.targetHealth(ctx.now(), 5 * 60_000);
      expect(health.map((h) => h.emitter)).to.deep.equal(['brigade', 'log']);
      expect(health[1]).to.deep.equal({
        emitter: 'log',
        pending: 2,
        dead: 0,
        delivered: 2,
        deliveredRecently: 1,
        lastSuccess: ctx.now(),
      });
      expect(health[0]).to.deep.include({ pending: 3, dead: 1, delivered: 0, deliveredRecently: 0 });
      expect(health[0].lastError).to.deep.equal({ message: 'newest failure', at: ctx.now(), status: 503 });

      // The attempts of a row go with it.
      await store.drop({ emitter: 'brigade' });
      await store.prune(ctx.now());
      expect((await store.targetHealth(ctx.now(), 60_000)).find((h) => h.emitter === 'brigade')).to.equal(undefined);
    });

    it('reads a page of 100 000 events as fast as the first, whatever the filter', async function () {
      this.timeout(180_000);
      const store = await ctx.open({ dedupWindowSeconds: 0 });
      const total = 100_000;
      for (let start = 0; start < total; start += 2000) {
        await store.accept(
          Array.from({ length: 2000 }, (_, i) => {
            const n = start + i;
            // One event in a thousand is rare on every dimension, the rest alike.
            const rare = n % 1000 === 0;
            return {
              event: makeEvent(`p${n}`, rare ? { repo: `rare/${n}`, tag: `t${n}`, type: 'quota_exceeded' } : {}),
              emitters: ['log'],
            };
          }),
        );
      }
      const dead = await store.claim('log', ctx.now(), 3);
      for (const d of dead) await store.markDead(d.id, 1, 'x');

      const timed = async (query: Parameters<DeliveryStore['listEvents']>[0]) => {
        const started = performance.now();
        const page = await store.listEvents({ limit: 50, ...query });
        return { page, ms: performance.now() - started };
      };
      const first = await timed({});
      expect(first.page.events).to.have.length(50);
      const deep = await timed({ before: 50 });
      expect(deep.page.events.map((e) => e.id)).to.deep.equal(Array.from({ length: 49 }, (_, i) => `p${48 - i}`));
      for (const query of [
        { type: 'quota_exceeded' },
        { repo: 'rare/5000' },
        { tag: 't7000' },
        { state: 'dead' as const },
      ]) {
        const { page, ms } = await timed(query);
        expect(page.events.length, JSON.stringify(query)).to.be.greaterThan(0);
        expect(ms, JSON.stringify(query)).to.be.below(250);
      }
      expect(deep.ms).to.be.below(250);
      const health = await store.targetHealth(ctx.now(), 60_000);
      expect(health[0]).to.include({ pending: total - 3, dead: 3 });
    });
  });
}
