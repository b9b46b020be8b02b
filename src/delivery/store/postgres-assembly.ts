import type pg from 'pg';
import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import { collapsing, isPart, isTaggedPush, SETTLED_RETENTION_MS, type CollapseOptions } from './held-parts';
import type { ReleasedPart, ReleaseResult } from './held-parts';
import { applyTagStep } from './postgres-tag-state';
import { annotate, tagStep } from './tag-state';

/**
 * Tag state and held parts on PostgreSQL, inside the accept transaction of one commit group.
 * Replicas commit groups side by side, so the transaction first takes a transaction-scoped
 * advisory lock per repository it touches, in one sorted order: a part and its tagged push
 * reaching two replicas at once are handled one after the other (READ COMMITTED reads afresh per
 * statement, so the second sees what the first committed), and no two groups wait in a cycle.
 * Answers the events to store as events: held parts are stored in their own table instead.
 */
export async function assembleGroup(
  client: pg.ClientBase,
  schema: string,
  events: PreparedEvent[],
  now: number,
  collapse?: CollapseOptions,
  metrics?: Metrics,
): Promise<PreparedEvent[]> {
  const collapsed = collapsing(collapse);
  const steps = events.map((e) => tagStep(e.event));
  const keys = new Set<string>();
  events.forEach(({ event }, n) => {
    if (steps[n] || (collapsed && (isPart(event) || isTaggedPush(event)))) keys.add(`${event.registry}/${event.repo}`);
  });
  if (keys.size === 0) return events;
  await client.query(
    `SELECT pg_advisory_xact_lock(hashtext($1 || k)) FROM unnest($2::text[]) WITH ORDINALITY AS l(k, n) ORDER BY n`,
    [`registry-gateway repo ${schema} `, [...keys].sort()],
  );

  const toStore: PreparedEvent[] = [];
  // Tagged pushes earlier in this group: not in `events` until the group's rows are written.
  const groupPushes = new Map<string, { source: string; id: string }>();
  for (const [n, prepared] of events.entries()) {
    const step = steps[n];
    if (step) await applyTagStep(client, `${schema}.tag_state`, prepared, step, now);
    if (!collapsed) {
      toStore.push(prepared);
      continue;
    }
    const event = prepared.event;
    const repoKey = `${event.registry}/${event.repo}`;
    const windowMs = collapse.windowSeconds * 1000;
    if (isPart(event)) {
      const push =
        groupPushes.get(repoKey) ?? (await recentPush(client, schema, event.registry, event.repo!, now - windowMs));
      await client.query(
        `INSERT INTO ${schema}.held_parts (source, id, registry, repo, digest, kind, body, emitters, accepted_at,
                                           release_at, state, push_source, push_id, settled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (source, id) DO NOTHING`,
        [
          event.source,
          event.id,
          event.registry,
          event.repo,
          event.digest,
          event.kind ?? 'unknown',
          prepared.body,
          JSON.stringify(prepared.emitters),
          now,
          now + windowMs,
          push ? 'absorbed' : 'held',
          push?.source ?? null,
          push?.id ?? null,
          push ? now : null,
        ],
      );
      // `held` counts every part taken in; the outcomes below say how each was settled.
      metrics?.parts.inc({ outcome: 'held' });
      if (push) metrics?.parts.inc({ outcome: 'absorbed' });
      continue;
    }
    if (isTaggedPush(event)) {
      const absorbed = await client.query(
        `UPDATE ${schema}.held_parts SET state = 'absorbed', push_source = $1, push_id = $2, settled_at = $3
          WHERE registry = $4 AND repo = $5 AND state = 'held' AND accepted_at >= $6`,
        [event.source, event.id, now, event.registry, event.repo, now - windowMs],
      );
      const parts = absorbed.rowCount ?? 0;
      if (parts > 0) metrics?.parts.inc({ outcome: 'absorbed' }, parts);
      annotate(prepared, { parts });
      groupPushes.set(repoKey, { source: event.source, id: event.id });
    }
    toStore.push(prepared);
  }
  return toStore;
}

async function recentPush(
  client: pg.ClientBase,
  schema: string,
  registry: string,
  repo: string,
  since: number,
): Promise<{ source: string; id: string } | undefined> {
  const { rows } = await client.query<{ source: string; id: string }>(
    `SELECT source, id FROM ${schema}.events
      WHERE registry = $1 AND repo = $2 AND type = 'push' AND tag IS NOT NULL AND accepted_at >= $3
      ORDER BY seq DESC LIMIT 1`,
    [registry, repo, since],
  );
  return rows[0];
}

/**
 * Settles the held parts past their window, inside a transaction: `SKIP LOCKED` lets every
 * replica release at once without two taking the same part, and a tagged push absorbing a part
 * at the same moment waits on its row and then finds it no longer held.
 */
export async function releaseParts(
  client: pg.ClientBase,
  schema: string,
  now: number,
  collapse?: CollapseOptions,
  metrics?: Metrics,
): Promise<ReleaseResult> {
  const drop = collapse?.orphans === 'drop';
  const { rows } = await client.query<ReleasedPart>(
    `UPDATE ${schema}.held_parts h SET state = $2, settled_at = $1
       FROM (SELECT source, id FROM ${schema}.held_parts WHERE state = 'held' AND release_at <= $1
              ORDER BY release_at LIMIT 500 FOR UPDATE SKIP LOCKED) due
      WHERE h.source = due.source AND h.id = due.id
      RETURNING h.source, h.id, h.body, h.emitters, h.accepted_at`,
    [now, drop ? 'dropped' : 'released'],
  );
  const emitters = new Set<string>();
  if (!drop) {
    for (const part of rows) {
      const { rows: stored } = await client.query<{ seq: string }>(
        `INSERT INTO ${schema}.events (source, id, provider, type, registry, repo, body, accepted_at, tag)
         SELECT source, id, body::jsonb->>'provider', body::jsonb->>'type', registry, repo, body, accepted_at, NULL
           FROM ${schema}.held_parts WHERE source = $1 AND id = $2
         RETURNING seq`,
        [part.source, part.id],
      );
      const targets = JSON.parse(part.emitters) as string[];
      await client.query(
        `INSERT INTO ${schema}.deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
         SELECT $1, e, 'pending', 0, $2, $2, $2 FROM unnest($3::text[]) AS d(e)`,
        [stored[0].seq, now, targets],
      );
      for (const emitter of targets) emitters.add(emitter);
    }
  }
  await client.query(`DELETE FROM ${schema}.held_parts WHERE state <> 'held' AND settled_at < $1`, [
    now - SETTLED_RETENTION_MS,
  ]);
  const result: ReleaseResult = {
    released: drop ? 0 : rows.length,
    dropped: drop ? rows.length : 0,
    emitters: [...emitters],
  };
  if (result.released > 0) metrics?.parts.inc({ outcome: 'released' }, result.released);
  if (result.dropped > 0) metrics?.parts.inc({ outcome: 'dropped' }, result.dropped);
  return result;
}
