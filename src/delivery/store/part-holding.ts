import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import type { Dialect } from './dialect';
import { collapsing, isPart, isTaggedPush, SETTLED_RETENTION_MS } from './held-parts';
import type { CollapseOptions, ReleasedPart, ReleaseResult } from './held-parts';
import type { Statement, Steps } from './steps';
import { annotate, applyTagStep } from './tag-state';

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
  /** Tagged pushes earlier in this commit group, by registry/repo: not in `events` until the group is written. */
  groupPushes: Map<string, { source: string; id: string }>;
}

const params = (d: Dialect, count: number) => Array.from({ length: count }, (_, i) => d.param(i + 1)).join(', ');

/**
 * For one fresh event: applies the tag state, then holds a part (or gives it at once to a tagged
 * push stored within the window) and answers false, so it is not stored as an event; lets a
 * tagged push absorb the held parts of its repository and answers true.
 */
export function* holdOrAbsorb(d: Dialect, prepared: PreparedEvent, h: Holding): Steps<boolean> {
  // The tag state first: a tagged push is delivered with its tag change and its parts count.
  yield* applyTagStep(d, prepared, h.now);
  if (!collapsing(h.collapse)) return true;
  const event = prepared.event;
  const repoKey = `${event.registry}/${event.repo}`;
  const windowMs = h.collapse.windowSeconds * 1000;
  const [p1, p2, p3, p4, p5, p6] = [1, 2, 3, 4, 5, 6].map((n) => d.param(n));
  if (isPart(event)) {
    const recent = (yield {
      text: `SELECT source, id FROM ${d.table('events')}
              WHERE registry = ${p1} AND repo = ${p2} AND type = 'push' AND tag IS NOT NULL AND accepted_at >= ${p3}
              ORDER BY seq DESC LIMIT 1`,
      params: [event.registry, event.repo, h.now - windowMs],
    }) as { source: string; id: string }[];
    const push = h.groupPushes.get(repoKey) ?? recent[0];
    yield {
      text: `INSERT INTO ${d.table('held_parts')} (source, id, registry, repo, digest, kind, body, emitters,
               accepted_at, release_at, state, push_source, push_id, settled_at)
             VALUES (${params(d, 14)}) ON CONFLICT (source, id) DO NOTHING`,
      params: [
        ...[event.source, event.id, event.registry, event.repo, event.digest, event.kind ?? 'unknown'],
        ...[prepared.body, JSON.stringify(prepared.emitters), h.now, h.now + windowMs],
        ...(push ? ['absorbed', push.source, push.id, h.now] : ['held', null, null, null]),
      ],
    };
    // `held` counts every part taken in; the outcomes below say how each was settled.
    h.metrics?.parts.inc({ outcome: 'held' });
    if (push) h.metrics?.parts.inc({ outcome: 'absorbed' });
    return false;
  }
  if (isTaggedPush(event)) {
    const absorbed = yield {
      text: `UPDATE ${d.table('held_parts')} SET state = 'absorbed', push_source = ${p1}, push_id = ${p2}, settled_at = ${p3}
              WHERE registry = ${p4} AND repo = ${p5} AND state = 'held' AND accepted_at >= ${p6}
             RETURNING id`,
      params: [event.source, event.id, h.now, event.registry, event.repo, h.now - windowMs],
    };
    if (absorbed.length > 0) h.metrics?.parts.inc({ outcome: 'absorbed' }, absorbed.length);
    annotate(prepared, { parts: absorbed.length });
    h.groupPushes.set(repoKey, { source: event.source, id: event.id });
  }
  return true;
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
