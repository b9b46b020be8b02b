import { expect } from 'chai';
import type { DeliveryStore } from '../../../src/delivery/store';
import type { DueDelivery } from '../../../src/delivery/types';
import { makeEvent } from '../support';

export interface TraceContextContext {
  open(): Promise<DeliveryStore>;
  now(): number;
}

const ORIGIN = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=opaque,other=1',
};

const byEvent = (due: DueDelivery[]) => Object.fromEntries(due.map((d) => [d.event.id, d.trace]));

/** The trace context stored with each event (schema version 6 on both engines): run on each engine. */
export function traceContextBehaviour(ctx: TraceContextContext): void {
  describe('trace context of an event', () => {
    it('comes back with every claim of its rows, after a restart, a retry and a replay alike', async () => {
      const first = await ctx.open();
      await first.accept([
        { event: makeEvent('traced'), emitters: ['log'], trace: ORIGIN },
        { event: makeEvent('state-less'), emitters: ['log'], trace: { traceparent: ORIGIN.traceparent } },
        { event: makeEvent('untraced'), emitters: ['log'] },
      ]);
      await first.close();

      const store = await ctx.open();
      const claimed = await store.claim('log', ctx.now(), 10);
      expect(byEvent(claimed)).to.deep.equal({
        traced: ORIGIN,
        'state-less': { traceparent: ORIGIN.traceparent },
        untraced: undefined,
      });
      const traced = claimed.find((d) => d.event.id === 'traced')!;
      for (const other of claimed.filter((d) => d !== traced)) await store.markDelivered(other.id, 1);

      await store.markRetry(traced.id, 1, ctx.now(), 'target down');
      const [again] = await store.claim('log', ctx.now(), 10);
      expect(again.trace).to.deep.equal(ORIGIN);
      await store.markDead(again.id, 2, 'gave up');
      expect(await store.replay({ eventId: 'traced' })).to.equal(1);
      const [replayed] = await store.claim('log', ctx.now(), 10);
      expect(replayed.trace).to.deep.equal(ORIGIN);
    });
  });
}
