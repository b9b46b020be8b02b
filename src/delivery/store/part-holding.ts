import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import type { Dialect } from './dialect';
import { collapsing, isPart, isTaggedPush, SETTLED_RETENTION_MS } from './held-parts';
import type { CollapseOptions, ReleasedPart, ReleaseResult } from './held-parts';
import type { Statement, Steps } from './steps';
import { annotate, applyTagSteps } from './tag-state';

/**
 * Tag state and held parts at accept and at release (held-parts.ts says why), written once for
 * both engines as steps. Each engine runs them inside its own transaction: SQLite event by event
 * in its accept transaction, PostgreSQL in the commit group's transaction after taking the
 * advisory lock of every repository the group touches.
 */

export interface Holding {
  now: number;
  collapse?: CollapseOptions;
  metrics?: Metrics;
}

/** Placeholders `from` .. `from + count - 1`, comma-separated. */
const placeholders = (d: Dialect, count: number, from = 1) =>
  Array.from({ length: count }, (_, i) => d.param(from + i)).join(', ');

/** A part this group holds, as its held_parts row will say (absorbed if a push took it). */
interface HeldRow {
  prepared: PreparedEvent;
  push?: { source: string; id: string };
}

/**
 * For the fresh events of one commit group, in accept order: applies the tag state, then holds
 * each part (or gives it at once to a tagged push stored within the window), lets each tagged
 * push absorb the held parts of its repository, and answers the events to store as events
 * (held parts are stored in their own table instead).
 *
 * A group costs a few statements, not a few per event: the latest tagged push is read once per
 * repository with parts, held parts are absorbed once per repository with a tagged push (the
 * first; a later one finds none left), and the group's parts are written in one insert. Parts of
 * the group itself are settled in memory: a push takes those before it in the group, and a part
 * after a push goes to that push.
 */
export function* holdOrAbsorb(d: Dialect, events: PreparedEvent[], h: Holding): Steps<PreparedEvent[]> {
  // The tag state first: a tagged push is delivered with its tag change and its parts count.
  yield* applyTagSteps(d, events, h.now);
  if (!collapsing(h.collapse)) return events;
  const windowMs = h.collapse.windowSeconds * 1000;
  const latestPush = new Map<string, { source: string; id: string } | undefined>();
  const heldInGroup = new Map<string, HeldRow[]>();
  const absorbedFromStore = new Set<string>();
  const parts: HeldRow[] = [];
  const toStore: PreparedEvent[] = [];
  for (const prepared of events) {
    const event = prepared.event;
    const repoKey = `${event.registry}/${event.repo}`;
    if (isPart(event)) {
      if (!latestPush.has(repoKey)) latestPush.set(repoKey, yield* recentTaggedPush(d, prepared, h.now - windowMs));
      const part: HeldRow = { prepared, push: latestPush.get(repoKey) };
      parts.push(part);
      if (part.push) h.metrics?.parts.inc({ outcome: 'absorbed' });
      else heldInGroup.set(repoKey, [...(heldInGroup.get(repoKey) ?? []), part]);
      continue;
    }
    toStore.push(prepared);
    if (!isTaggedPush(event)) continue;
    const push = { source: event.source, id: event.id };
    // Held before this group: only the repository's first tagged push in the group finds any.
    const absorbed = absorbedFromStore.has(repoKey) ? 0 : yield* absorbHeld(d, prepared, h, windowMs);
    absorbedFromStore.add(repoKey);
    const fromGroup = heldInGroup.get(repoKey) ?? [];
    for (const part of fromGroup) part.push = push;
    heldInGroup.delete(repoKey);
    if (absorbed + fromGroup.length > 0) h.metrics?.parts.inc({ outcome: 'absorbed' }, absorbed + fromGroup.length);
    annotate(prepared, { parts: absorbed + fromGroup.length });
    latestPush.set(repoKey, push);
  }
  yield* insertParts(d, parts, h.now, windowMs);
  // `held` counts every part taken in; `absorbed` those a push took.
  if (parts.length > 0) h.metrics?.parts.inc({ outcome: 'held' }, parts.length);
  return toStore;
}

/** The repository's latest tagged push stored within the window, if any. */
function* recentTaggedPush(
  d: Dialect,
  prepared: PreparedEvent,
  since: number,
): Steps<{ source: string; id: string } | undefined> {
  const [p1, p2, p3] = [1, 2, 3].map((n) => d.param(n));
  const { registry, repo } = prepared.event;
  const rows = (yield {
    text: `SELECT source, id FROM ${d.table('events')}
            WHERE registry = ${p1} AND repo = ${p2} AND type = 'push' AND tag IS NOT NULL AND accepted_at >= ${p3}
            ORDER BY seq DESC LIMIT 1`,
    params: [registry, repo, since],
  }) as { source: string; id: string }[];
  return rows[0] ? { source: rows[0].source, id: rows[0].id } : undefined;
}

/** Gives a tagged push the parts of its repository held before this group; answers how many. */
function* absorbHeld(d: Dialect, prepared: PreparedEvent, h: Holding, windowMs: number): Steps<number> {
  const [p1, p2, p3, p4, p5, p6] = [1, 2, 3, 4, 5, 6].map((n) => d.param(n));
  const { source, id, registry, repo } = prepared.event;
  const absorbed = yield {
    text: `UPDATE ${d.table('held_parts')} SET state = 'absorbed', push_source = ${p1}, push_id = ${p2}, settled_at = ${p3}
            WHERE registry = ${p4} AND repo = ${p5} AND state = 'held' AND accepted_at >= ${p6}
           RETURNING id`,
    params: [source, id, h.now, registry, repo, h.now - windowMs],
  };
  return absorbed.length;
}

/** The group's parts in their table, held or absorbed, in one statement per hundred. */
function* insertParts(d: Dialect, parts: HeldRow[], now: number, windowMs: number): Steps<void> {
  const COLUMNS = 14;
  for (let i = 0; i < parts.length; i += 100) {
    const chunk = parts.slice(i, i + 100);
    const values = chunk.map((_, n) => `(${placeholders(d, COLUMNS, 1 + n * COLUMNS)})`);
    yield {
      text: `INSERT INTO ${d.table('held_parts')} (source, id, registry, repo, digest, kind, body, emitters,
               accepted_at, release_at, state, push_source, push_id, settled_at)
             VALUES ${values.join(', ')} ON CONFLICT (source, id) DO NOTHING`,
      params: chunk.flatMap(({ prepared, push }) => {
        const { event } = prepared;
        return [
          ...[event.source, event.id, event.registry, event.repo, event.digest, event.kind ?? 'unknown'],
          ...[prepared.body, JSON.stringify(prepared.emitters), now, now + windowMs],
          ...(push ? ['absorbed', push.source, push.id, now] : ['held', null, null, null]),
        ];
      }),
    };
  }
}

/**
 * Settles the held parts past their window: `take` is the engine's statement that marks them
 * settled ($1 now, $2 the new state) and returns them, at most 500 (on PostgreSQL with SKIP
 * LOCKED, so replicas release side by side and never the same part). A released part becomes an
 * event with a row per target; settled parts are forgotten after a day.
 */
export function* releaseDue(
  d: Dialect,
  take: (state: 'released' | 'dropped') => Statement,
  now: number,
  collapse?: CollapseOptions,
  metrics?: Metrics,
): Steps<ReleaseResult> {
  const drop = collapse?.orphans === 'drop';
  const parts = (yield take(drop ? 'dropped' : 'released')) as unknown as ReleasedPart[];
  const emitters = new Set<string>();
  for (const part of drop ? [] : parts) {
    const [stored] = (yield {
      text: `INSERT INTO ${d.table('events')} (source, id, provider, type, registry, repo, body, accepted_at, tag)
             SELECT source, id, ${d.jsonText('body', 'provider')}, ${d.jsonText('body', 'type')}, registry, repo,
                    body, accepted_at, NULL
               FROM ${d.table('held_parts')} WHERE source = ${d.param(1)} AND id = ${d.param(2)}
             RETURNING seq`,
      params: [part.source, part.id],
    }) as { seq: number }[];
    for (const emitter of JSON.parse(part.emitters) as string[]) {
      yield {
        text: `INSERT INTO ${d.table('deliveries')} (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
               VALUES (${d.param(1)}, ${d.param(2)}, 'pending', 0, ${d.param(3)}, ${d.param(4)}, ${d.param(5)})`,
        params: [stored.seq, emitter, now, now, now],
      };
      emitters.add(emitter);
    }
  }
  yield {
    text: `DELETE FROM ${d.table('held_parts')} WHERE state <> 'held' AND settled_at < ${d.param(1)}`,
    params: [now - SETTLED_RETENTION_MS],
  };
  const result: ReleaseResult = {
    released: drop ? 0 : parts.length,
    dropped: drop ? parts.length : 0,
    emitters: [...emitters],
  };
  if (result.released > 0) metrics?.parts.inc({ outcome: 'released' }, result.released);
  if (result.dropped > 0) metrics?.parts.inc({ outcome: 'dropped' }, result.dropped);
  return result;
}
