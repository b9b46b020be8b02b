import type pg from 'pg';
import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import { postgresDialect } from './dialect';
import { collapsing, isPart, isTaggedPush, type CollapseOptions, type ReleaseResult } from './held-parts';
import { holdOrAbsorb, releaseDue } from './part-holding';
import { runAsync, type Statement } from './steps';
import { tagStep } from './tag-state';

/**
 * Tag state and held parts (part-holding.ts) run on PostgreSQL, inside the accept transaction of
 * one commit group.
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

  const d = postgresDialect(schema);
  const exec = async ({ text, params }: Statement) => (await client.query<Record<string, unknown>>(text, params)).rows;
  return runAsync(holdOrAbsorb(d, events, { now, collapse, metrics }), exec);
}

/**
 * Settles the held parts past their window, inside a transaction: `SKIP LOCKED` lets every
 * replica release at once without two taking the same part, and a tagged push absorbing a part
 * at the same moment waits on its row and then finds it no longer held.
 */
export function releaseParts(
  client: pg.ClientBase,
  schema: string,
  now: number,
  collapse?: CollapseOptions,
  metrics?: Metrics,
): Promise<ReleaseResult> {
  const take = (state: 'released' | 'dropped') => ({
    text: `UPDATE ${schema}.held_parts h SET state = $2, settled_at = $1
             FROM (SELECT source, id FROM ${schema}.held_parts WHERE state = 'held' AND release_at <= $1
                    ORDER BY release_at LIMIT 500 FOR UPDATE SKIP LOCKED) due
            WHERE h.source = due.source AND h.id = due.id
            RETURNING h.source, h.id, h.body, h.emitters, h.accepted_at`,
    params: [now, state],
  });
  const exec = async ({ text, params }: Statement) => (await client.query<Record<string, unknown>>(text, params)).rows;
  return runAsync(releaseDue(postgresDialect(schema), take, now, collapse, metrics), exec);
}
