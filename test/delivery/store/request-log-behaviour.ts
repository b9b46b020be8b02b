import { expect } from 'chai';
import type { DeliveryStore, RequestRecord, StoreOptions } from '../../../src/delivery/store';
import { makeEvent } from '../support';

/** What the request log suite needs of the behaviour suite around it. */
export interface RequestLogContext {
  open(options?: Partial<StoreOptions>): Promise<DeliveryStore>;
  now(): number;
}

function request(at: number, fields: Partial<RequestRecord> = {}): RequestRecord {
  return {
    receivedAt: at,
    source: '10.0.0.7',
    method: 'POST',
    path: '/events/harbor',
    status: 202,
    result: 'accepted',
    latencyMs: 1.5,
    ...fields,
  };
}

/** The request log, run on each engine by the store behaviour suite. */
export function requestLogBehaviour(ctx: RequestLogContext): void {
  describe('request log', () => {
    const t0 = Date.parse('2024-05-01T12:00:00Z');

    it('keeps each request with its outcome and links accepted ones to their events', async () => {
      const store = await ctx.open();
      await store.accept([{ event: makeEvent('e1'), emitters: ['log'] }]);
      await store.recordRequests([
        request(t0, { provider: 'harbor', token: 'ci', eventIds: ['e1'] }),
        request(t0 + 1, {
          path: '/events/harbor/[redacted]',
          status: 401,
          result: 'refused',
          reason: 'unauthorized: no token',
        }),
        request(t0 + 2, { status: 400, result: 'refused', reason: 'rejected: bad json', body: '{not json' }),
      ]);
      const page = await store.listRequests();
      expect(page.requests.map((r) => r.status)).to.deep.equal([400, 401, 202]);
      const [bad, unauthorized, accepted] = page.requests;
      expect(bad).to.include({
        result: 'refused',
        reason: 'rejected: bad json',
        body: '{not json',
        source: '10.0.0.7',
      });
      expect(unauthorized).to.include({ path: '/events/harbor/[redacted]', reason: 'unauthorized: no token' });
      expect(unauthorized).not.to.have.property('token');
      const seq = (await store.listEvents()).events[0].seq;
      expect(accepted).to.include({ provider: 'harbor', token: 'ci', receivedAt: t0, latencyMs: 1.5 });
      expect(accepted.events).to.deep.equal([{ id: 'e1', seq }]);
    });

    it('filters by status class, provider, token name and time, one keyset page at a time', async () => {
      const store = await ctx.open();
      await store.recordRequests([
        request(t0, { provider: 'harbor', token: 'ci' }),
        request(t0 + 10, { provider: 'quay', status: 415, result: 'refused', reason: 'unsupported_media: text/plain' }),
        request(t0 + 20, { provider: 'harbor', status: 503, result: 'refused', reason: 'unavailable: draining' }),
        request(t0 + 30, { provider: 'harbor', token: 'ops' }),
      ]);
      const statuses = async (q: Parameters<DeliveryStore['listRequests']>[0]) =>
        (await store.listRequests(q)).requests.map((r) => r.status);
      expect(await statuses({ statusClass: 4 })).to.deep.equal([415]);
      expect(await statuses({ statusClass: 5 })).to.deep.equal([503]);
      expect(await statuses({ provider: 'harbor' })).to.deep.equal([202, 503, 202]);
      expect(await statuses({ token: 'ci' })).to.deep.equal([202]);
      expect(await statuses({ since: t0 + 10, until: t0 + 30 })).to.deep.equal([503, 415]);
      const first = await store.listRequests({ limit: 3 });
      expect(first.requests).to.have.length(3);
      const rest = await store.listRequests({ limit: 3, before: first.nextBefore });
      expect(rest.requests.map((r) => r.receivedAt)).to.deep.equal([t0]);
      expect(rest.nextBefore).to.equal(undefined);
    });

    it("is cut by the store's prune: by age, then the oldest rows past the cap", async () => {
      const store = await ctx.open({ requestLog: { retentionHours: 1, maxRows: 3 } });
      const now = ctx.now();
      const minutesAgo = [120, 61, 50, 40, 30, 20];
      await store.recordRequests(minutesAgo.map((m) => request(now - m * 60_000, { path: `/events/${m}` })));
      await store.recordRequests([request(now - 10 * 60_000, { path: '/events/10' })]);
      const kept = async () => (await store.listRequests()).requests.map((r) => r.path);
      // Two rows are past the hour, then two more of the five left are past the cap of three.
      expect(await store.prune(now)).to.deep.include({ requests: 4 });
      expect(await kept()).to.deep.equal(['/events/10', '/events/20', '/events/30']);
      expect(await store.prune(now)).to.deep.include({ requests: 0 });
      // An hour on, every row is past retention.
      expect(await store.prune(now + 51 * 60_000)).to.deep.include({ requests: 3 });
      expect(await kept()).to.deep.equal([]);
    });

    it('is kept to the config defaults by a store opened without limits', async () => {
      const store = await ctx.open();
      const now = ctx.now();
      await store.recordRequests([request(now - 25 * 3_600_000), request(now - 23 * 3_600_000)]);
      expect(await store.prune(now)).to.deep.include({ requests: 1 });
      expect((await store.listRequests()).requests.map((r) => r.receivedAt)).to.deep.equal([now - 23 * 3_600_000]);
    });
  });
}
