import { expect } from 'chai';
import type { DeliveryStore, StoreOptions } from '../../../src/delivery/store';
import type { RegistryEvent } from '../../../src/model/event';
import { Metrics } from '../../../src/observability/metrics';
import { makeEvent } from '../support';

export interface HeldPartsContext {
  open(options?: Partial<StoreOptions>, metrics?: Metrics): Promise<DeliveryStore>;
  now(): number;
  advance(ms: number): void;
}

const WINDOW = { windowSeconds: 10, orphans: 'deliver' as const };
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** buildx's five manifests: two images, two attestations by digest, then the index by tag. */
const part = (id: string, n: number, overrides: Partial<RegistryEvent> = {}) =>
  makeEvent(id, { tag: undefined, digest: digest(n), kind: 'unknown', ...overrides });
const indexPush = (id: string, overrides: Partial<RegistryEvent> = {}) =>
  makeEvent(id, { tag: 'v1', digest: digest(99), kind: 'index', ...overrides });

async function deliveredIds(store: DeliveryStore): Promise<string[]> {
  return (await store.list({ limit: 1000 })).rows.map((r) => r.eventId).sort();
}

async function partsCounted(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.parts.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

/** Held parts: run on each engine by the store behaviour suite. */
export function heldPartsBehaviour(ctx: HeldPartsContext): void {
  describe('held parts (collapse)', () => {
    it('holds pushes by digest and lets the tagged push absorb them: one event, with the count', async () => {
      const metrics = new Metrics();
      const store = await ctx.open({ collapse: WINDOW }, metrics);
      for (let n = 1; n <= 4; n++) await store.accept([{ event: part(`m${n}`, n), emitters: ['brigade', 'knative'] }]);
      ctx.advance(2000);
      const [tagged] = await store.accept([{ event: indexPush('index'), emitters: ['brigade', 'knative'] }]);
      expect(tagged.event.parts).to.equal(4);
      expect(await deliveredIds(store)).to.deep.equal(['index', 'index']);
      const absorbed = await store.listHeldParts({ push: { source: 'brigade.sh/acr', id: 'index' } });
      expect(absorbed.map((p) => [p.id, p.state, p.digest])).to.have.deep.members([
        ['m1', 'absorbed', digest(1)],
        ['m2', 'absorbed', digest(2)],
        ['m3', 'absorbed', digest(3)],
        ['m4', 'absorbed', digest(4)],
      ]);
      ctx.advance(60_000);
      expect((await store.releaseHeldParts(ctx.now())).released).to.equal(0);
      expect(await deliveredIds(store)).to.deep.equal(['index', 'index']);
      expect(await partsCounted(metrics)).to.deep.equal({ held: 4, absorbed: 4 });
    });

    it('absorbs parts that come after their tagged push within the window (a reordered queue)', async () => {
      const store = await ctx.open({ collapse: WINDOW });
      const [tagged] = await store.accept([{ event: indexPush('index'), emitters: ['brigade'] }]);
      expect(tagged.event.parts).to.equal(0);
      ctx.advance(3000);
      await store.accept([
        { event: part('m1', 1), emitters: ['brigade'] },
        { event: part('m2', 2), emitters: ['brigade'] },
      ]);
      ctx.advance(60_000);
      await store.releaseHeldParts(ctx.now());
      expect(await deliveredIds(store)).to.deep.equal(['index']);
      expect((await store.listHeldParts({ state: 'absorbed' })).map((p) => p.push?.id)).to.deep.equal([
        'index',
        'index',
      ]);
    });

    it('absorbs within one commit group, in either order', async () => {
      const store = await ctx.open({ collapse: WINDOW });
      await Promise.all([
        store.accept([{ event: part('a1', 1), emitters: ['log'] }]),
        store.accept([{ event: indexPush('a-index'), emitters: ['log'] }]),
        store.accept([{ event: part('a2', 2), emitters: ['log'] }]),
      ]);
      ctx.advance(60_000);
      await store.releaseHeldParts(ctx.now());
      expect(await deliveredIds(store)).to.deep.equal(['a-index']);
    });

    it('counts parts held before the call and parts of the call alike, per repository, in one call', async () => {
      const metrics = new Metrics();
      const store = await ctx.open({ collapse: WINDOW }, metrics);
      await store.accept([{ event: part('old', 1), emitters: ['log'] }]);
      ctx.advance(1000);
      const other = { repo: 'library/other' };
      const results = await store.accept([
        { event: part('b1', 2), emitters: ['log'] },
        { event: part('o1', 3, other), emitters: ['log'] },
        { event: indexPush('b-index'), emitters: ['log'] },
        { event: part('b2', 4), emitters: ['log'] },
        { event: indexPush('o-index', other), emitters: ['log'] },
        { event: indexPush('b-index2', { digest: digest(98) }), emitters: ['log'] },
      ]);
      expect(results.map((r) => r.event.parts)).to.deep.equal([undefined, undefined, 2, undefined, 1, 0]);
      const takenBy = async (id: string) =>
        (await store.listHeldParts({ push: { source: 'brigade.sh/acr', id } })).map((p) => p.id).sort();
      expect(await takenBy('b-index')).to.deep.equal(['b1', 'b2', 'old']);
      expect(await takenBy('o-index')).to.deep.equal(['o1']);
      expect(await partsCounted(metrics)).to.deep.equal({ held: 4, absorbed: 4 });
      ctx.advance(60_000);
      expect((await store.releaseHeldParts(ctx.now())).released).to.equal(0);
      expect(await deliveredIds(store)).to.deep.equal(['b-index', 'b-index2', 'o-index']);
    });

    it('releases a part no tagged push claimed once its window has passed, once, with its targets', async () => {
      const metrics = new Metrics();
      const store = await ctx.open({ collapse: WINDOW }, metrics);
      const accepted = ctx.now();
      const [held] = await store.accept([{ event: part('lone', 1), emitters: ['brigade', 'log'] }]);
      expect(held.duplicate).to.equal(false);
      ctx.advance(9_000);
      expect(await store.releaseHeldParts(ctx.now())).to.deep.equal({ released: 0, dropped: 0, emitters: [] });
      expect(await deliveredIds(store)).to.deep.equal([]);
      ctx.advance(1_000);
      const released = await store.releaseHeldParts(ctx.now());
      expect(released.released).to.equal(1);
      expect(released.emitters.sort()).to.deep.equal(['brigade', 'log']);
      const rows = (await store.list({ eventId: 'lone' })).rows;
      expect(rows.map((r) => [r.emitter, r.state]).sort()).to.deep.equal([
        ['brigade', 'pending'],
        ['log', 'pending'],
      ]);
      expect(rows[0].acceptedAt, 'latency counts from the acknowledgement').to.equal(accepted);
      expect((await store.claim('brigade', ctx.now(), 1))[0].event).to.include({ id: 'lone', digest: digest(1) });
      expect((await store.releaseHeldParts(ctx.now())).released).to.equal(0);
      expect((await partsCounted(metrics)).released).to.equal(1);
    });

    it('drops an orphan when configured to', async () => {
      const store = await ctx.open({ collapse: { windowSeconds: 10, orphans: 'drop' } });
      await store.accept([{ event: part('lone', 1), emitters: ['brigade'] }]);
      ctx.advance(10_000);
      expect(await store.releaseHeldParts(ctx.now())).to.deep.equal({ released: 0, dropped: 1, emitters: [] });
      expect(await deliveredIds(store)).to.deep.equal([]);
      expect((await store.listHeldParts({ state: 'dropped' })).map((p) => p.id)).to.deep.equal(['lone']);
    });

    it('leaves parts of other repositories and parts older than the window alone', async () => {
      const store = await ctx.open({ collapse: WINDOW });
      await store.accept([{ event: part('old', 1), emitters: ['log'] }]);
      ctx.advance(10_001);
      await store.accept([{ event: part('other', 2, { repo: 'library/other' }), emitters: ['log'] }]);
      const [tagged] = await store.accept([{ event: indexPush('index'), emitters: ['log'] }]);
      expect(tagged.event.parts).to.equal(0);
      ctx.advance(20_000);
      expect((await store.releaseHeldParts(ctx.now())).released).to.equal(2);
      expect(await deliveredIds(store)).to.deep.equal(['index', 'old', 'other']);
    });

    it("answers a sender's retry of a held part as a duplicate and holds it once", async () => {
      const store = await ctx.open({ collapse: WINDOW });
      await store.accept([{ event: part('m1', 1), emitters: ['log'] }]);
      const [retry] = await store.accept([{ event: part('m1', 1), emitters: ['log'] }]);
      expect(retry.duplicate).to.equal(true);
      expect(await store.listHeldParts()).to.have.length(1);
    });

    it('keeps held parts through a restart and releases them from the next process', async () => {
      const first = await ctx.open({ collapse: WINDOW });
      await first.accept([{ event: part('m1', 1), emitters: ['log'] }]);
      await first.close();
      const second = await ctx.open({ collapse: WINDOW });
      ctx.advance(10_000);
      expect((await second.releaseHeldParts(ctx.now())).released).to.equal(1);
      expect(await deliveredIds(second)).to.deep.equal(['m1']);
    });

    it('holds nothing with a zero window: every push is delivered as it comes', async () => {
      const store = await ctx.open({ collapse: { windowSeconds: 0, orphans: 'deliver' } });
      await store.accept([{ event: part('m1', 1), emitters: ['log'] }]);
      const [tagged] = await store.accept([{ event: indexPush('index'), emitters: ['log'] }]);
      expect(tagged.event).not.to.have.property('parts');
      expect(await deliveredIds(store)).to.deep.equal(['index', 'm1']);
    });
  });
}
