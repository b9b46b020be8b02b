import { expect } from 'chai';
import type { DeliveryStore } from '../../../src/delivery/store';
import { route, type RouteTarget } from '../../../src/delivery/routing';
import type { DeliverySettings, RoutedEvent } from '../../../src/delivery/types';
import type { RegistryEvent } from '../../../src/model/event';
import { makeEvent } from '../support';

export interface TagStateContext {
  open(overrides?: Partial<DeliverySettings>): Promise<DeliveryStore>;
}

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

/** Two targets: one takes everything, one only pushes that created or moved their tag. */
const TARGETS: RouteTarget[] = [
  { name: 'log', filter: {} },
  { name: 'brigade', filter: { changes: ['created', 'moved'] } },
];

/** As the intake hands events to the store: routed, with routing itself for the store to run again. */
function routed(event: RegistryEvent): RoutedEvent {
  const again = (e: RegistryEvent) => route(e, TARGETS);
  return { event, emitters: again(event), route: again };
}

const push = (id: string, digest: string, tag = 'v1') => makeEvent(id, { tag, digest });

/** The stored event (the body the dispatcher will deliver) of every row of `id`, with its emitters. */
async function stored(store: DeliveryStore, id: string): Promise<{ event: RegistryEvent; emitters: string[] }> {
  const deliveries = (await store.list({ eventId: id })).rows.reverse();
  const detail = await store.eventDetail((await store.listEvents({ eventId: id })).events[0]?.seq ?? Number.NaN);
  return { event: detail!.event, emitters: deliveries.map((d) => d.emitter) };
}

/** Tag state: run on each engine by the store behaviour suite. */
export function tagStateBehaviour(ctx: TagStateContext): void {
  describe('tag state', () => {
    it('says a push created, moved (from where) or left its tag unchanged, in the stored event', async () => {
      const store = await ctx.open();
      await store.accept([routed(push('p1', A))]);
      await store.accept([routed(push('p2', A))]);
      const [moved] = await store.accept([routed(push('p3', B))]);
      expect(moved.event).to.include({ tagChange: 'moved', previousDigest: A });

      expect((await stored(store, 'p1')).event).to.include({ tagChange: 'created' });
      expect((await stored(store, 'p1')).event).not.to.have.property('previousDigest');
      expect((await stored(store, 'p2')).event).to.include({ tagChange: 'unchanged' });
      expect((await stored(store, 'p3')).event).to.include({ tagChange: 'moved', previousDigest: A });
    });

    it('routes again on the change: a `changes` filter skips an identical re-push', async () => {
      const store = await ctx.open();
      await store.accept([routed(push('p1', A))]);
      await store.accept([routed(push('p2', A))]);
      expect((await stored(store, 'p1')).emitters).to.deep.equal(['log', 'brigade']);
      expect((await stored(store, 'p2')).emitters).to.deep.equal(['log']);
    });

    it('keeps tags of other repositories, registries and names apart, and orders pushes within one call', async () => {
      const store = await ctx.open();
      const results = await store.accept([
        routed(push('p1', A)),
        routed(makeEvent('p2', { repo: 'library/other', digest: B })),
        routed(makeEvent('p3', { registry: 'other.azurecr.io', digest: B })),
        routed(push('p4', B, 'v2')),
        routed(push('p5', B)),
      ]);
      expect(results.map((r) => r.event.tagChange)).to.deep.equal([
        'created',
        'created',
        'created',
        'created',
        'moved',
      ]);
    });

    it('forgets a tag on a delete of the tag, and every tag of a digest on a delete of the manifest', async () => {
      const store = await ctx.open();
      await store.accept([routed(push('p1', A)), routed(push('p2', A, 'latest'))]);
      await store.accept([routed(makeEvent('d1', { type: 'delete', tag: 'v1', digest: undefined }))]);
      const [again] = await store.accept([routed(push('p3', A))]);
      expect(again.event.tagChange).to.equal('created');
      await store.accept([routed(makeEvent('d2', { type: 'delete', tag: undefined, digest: A }))]);
      const results = await store.accept([routed(push('p4', A)), routed(push('p5', A, 'latest'))]);
      expect(results.map((r) => r.event.tagChange)).to.deep.equal(['created', 'created']);
    });

    it('names the tag a signature subject goes by, and leaves a push by digest without a change', async () => {
      const store = await ctx.open();
      await store.accept([routed(push('p1', A))]);
      const [signed] = await store.accept([
        routed(
          makeEvent('s1', {
            type: 'signed',
            kind: 'signature',
            tag: `sha256-${'a'.repeat(64)}.sig`,
            digest: B,
            subject: { digest: A, repo: 'library/app' },
          }),
        ),
      ]);
      expect(signed.event.subject).to.deep.equal({ digest: A, repo: 'library/app', tag: 'v1' });
      const [untagged] = await store.accept([routed(makeEvent('u1', { tag: undefined, digest: B }))]);
      expect(untagged.event).not.to.have.property('tagChange');
      expect((await stored(store, 'u1')).emitters).to.deep.equal(['log', 'brigade']);
    });

    it('applies pushes, deletes and signatures of one call in order, and keeps what the call left', async () => {
      const store = await ctx.open();
      const signature = makeEvent('s1', {
        type: 'signed',
        kind: 'signature',
        tag: `sha256-${'a'.repeat(64)}.sig`,
        digest: `sha256:${'c'.repeat(64)}`,
        subject: { digest: A, repo: 'library/app' },
      });
      const results = await store.accept([
        routed(push('p1', A)),
        routed(push('p2', A, 'latest')),
        // Both tags were set at the same moment: the first by name, as the store orders them.
        routed(signature),
        routed(makeEvent('d1', { type: 'delete', tag: 'v1', digest: undefined })),
        routed(push('p3', A)),
        routed(makeEvent('d2', { type: 'delete', tag: undefined, digest: A })),
        routed(push('p4', B, 'latest')),
        routed(push('p5', B)),
      ]);
      expect(results.map((r) => r.event.tagChange ?? '-')).to.deep.equal([
        'created',
        'created',
        '-',
        '-',
        'created',
        '-',
        'created',
        'created',
      ]);
      expect(results[2].event.subject?.tag).to.equal('latest');
      // What the call left in the state: both tags at B, nothing at A.
      const after = await store.accept([routed(push('p6', B, 'latest')), routed(push('p7', A))]);
      expect(after[0].event.tagChange).to.equal('unchanged');
      expect(after[1].event).to.include({ tagChange: 'moved', previousDigest: B });
    });

    it('changes nothing for a duplicate: a sender retrying a push does not make it unchanged', async () => {
      const store = await ctx.open();
      await store.accept([routed(push('p1', A))]);
      const [retry] = await store.accept([routed(push('p1', A))]);
      expect(retry.duplicate).to.equal(true);
      expect((await stored(store, 'p1')).event.tagChange).to.equal('created');
    });

    it('survives a restart: the state is in the store', async () => {
      const first = await ctx.open();
      await first.accept([routed(push('p1', A))]);
      await first.close();
      const second = await ctx.open();
      const [moved] = await second.accept([routed(push('p2', B))]);
      expect(moved.event).to.include({ tagChange: 'moved', previousDigest: A });
    });
  });
}
