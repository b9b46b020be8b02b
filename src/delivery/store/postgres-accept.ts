import type pg from 'pg';
import type { AcceptResult } from '../types';
import { tooManyPending, type AcceptCall, type CallOutcome, type PreparedEvent } from './commit-group';
import type { Metrics } from '../../observability/metrics';
import type { CollapseOptions } from './held-parts';
import { assembleGroup } from './postgres-assembly';

export interface AcceptContext {
  /** Quoted schema name. */
  schema: string;
  now: number;
  /** 0 = no dedup: every repeat is stored. */
  dedupWindowMs: number;
  /** 0 = no limit. */
  maxPending: number;
  /** Pending rows as last counted; refusal is decided per group, so a group may overshoot a little. */
  pending: number;
  collapse?: CollapseOptions;
  metrics?: Metrics;
}

interface Slot {
  call: number;
  index: number;
  key: string;
}

const keyOf = (source: string, id: string) => JSON.stringify([source, id]);

/** Repeats inside the group are duplicates of their first occurrence, whatever the database says. */
function firstOccurrences(calls: AcceptCall[], dedup: boolean): { firsts: Slot[]; repeat: boolean[][] } {
  const firsts: Slot[] = [];
  const seen = new Set<string>();
  const repeat = calls.map((call, c) =>
    call.map(({ event }, i) => {
      const key = dedup ? keyOf(event.source, event.id) : '';
      if (dedup && seen.has(key)) return true;
      seen.add(key);
      firsts.push({ call: c, index: i, key });
      return false;
    }),
  );
  return { firsts, repeat };
}

/**
 * The keys of the group not seen within the window. Freshness is decided by the unique key: an
 * insert that meets a committed (source, id) still inside the window returns nothing, and one that
 * meets another replica's uncommitted insert waits for it. So the same event posted to two
 * replicas at once is stored once. When full, only look: duplicates are still answered (their
 * sender must stop retrying), the rest is refused, and nothing may be remembered for a refused event.
 */
async function freshKeys(
  client: pg.ClientBase,
  calls: AcceptCall[],
  firsts: Slot[],
  ctx: AcceptContext,
  full: boolean,
): Promise<Set<string>> {
  const windowStart = ctx.now - ctx.dedupWindowMs;
  const sources = firsts.map((s) => calls[s.call][s.index].event.source);
  const ids = firsts.map((s) => calls[s.call][s.index].event.id);
  const sql = full
    ? `SELECT k.s AS source, k.i AS id FROM unnest($1::text[], $2::text[]) AS k(s, i)
        WHERE NOT EXISTS (SELECT 1 FROM ${ctx.schema}.dedup_keys d WHERE d.source = k.s AND d.id = k.i AND d.seen_at > $3)`
    : `INSERT INTO ${ctx.schema}.dedup_keys (source, id, seen_at)
       SELECT k.s, k.i, $4::bigint FROM unnest($1::text[], $2::text[]) AS k(s, i) ORDER BY k.s, k.i
       ON CONFLICT (source, id) DO UPDATE SET seen_at = excluded.seen_at
        WHERE ${ctx.schema}.dedup_keys.seen_at <= $3
       RETURNING source, id`;
  const params = full ? [sources, ids, windowStart] : [sources, ids, windowStart, ctx.now];
  const { rows } = await client.query<{ source: string; id: string }>(sql, params);
  return new Set(rows.map((r) => keyOf(r.source, r.id)));
}

/** What a commit group did: each call's outcome, and the emitters given rows (to wake after the commit). */
export interface GroupCommitted {
  outcomes: CallOutcome[];
  woken: string[];
}

/** One commit group, inside one transaction the caller opened: a handful of round trips whatever its size. */
export async function commitAccepts(
  client: pg.ClientBase,
  calls: AcceptCall[],
  ctx: AcceptContext,
): Promise<GroupCommitted> {
  const dedup = ctx.dedupWindowMs > 0;
  const { firsts, repeat } = firstOccurrences(calls, dedup);
  const full = ctx.maxPending > 0 && ctx.pending >= ctx.maxPending;
  const fresh = dedup ? await freshKeys(client, calls, firsts, ctx, full) : undefined;

  const outcomes: CallOutcome[] = calls.map((call, c) =>
    call.map(({ event }, i): AcceptResult => ({ event, duplicate: repeat[c][i] })),
  );
  const stored = firsts.filter((slot) => {
    if (!fresh || fresh.has(slot.key)) return true;
    (outcomes[slot.call] as AcceptResult[])[slot.index].duplicate = true;
    return false;
  });
  if (full) {
    for (const c of new Set(stored.map((s) => s.call))) outcomes[c] = tooManyPending(ctx.pending, ctx.maxPending);
    return { outcomes, woken: [] };
  }
  if (stored.length === 0) return { outcomes, woken: [] };

  // Before the rows are written: tag state and held parts may add to an event and route it
  // again, and a held part is stored in its own table rather than as an event.
  const events = await assembleGroup(
    client,
    ctx.schema,
    stored.map((s) => calls[s.call][s.index]),
    ctx.now,
    ctx.collapse,
    ctx.metrics,
  );
  for (const slot of stored)
    (outcomes[slot.call] as AcceptResult[])[slot.index].event = calls[slot.call][slot.index].event;
  return { outcomes, woken: await insertEvents(client, ctx, events) };
}

/**
 * Writes the events and their delivery rows in one round trip; answers the emitters given rows.
 * Each event takes its sequence number in the statement, in the group's order (a scan of
 * `unnest` yields its rows in order), and its delivery rows find it by that position.
 */
async function insertEvents(client: pg.ClientBase, ctx: AcceptContext, events: PreparedEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const deliveryPositions: number[] = [];
  const deliveryEmitters: string[] = [];
  events.forEach((e, n) => {
    for (const emitter of e.emitters) {
      deliveryPositions.push(n + 1);
      deliveryEmitters.push(emitter);
    }
  });
  const column = <T>(pick: (e: PreparedEvent) => T) => events.map(pick);
  await client.query(
    `WITH fresh AS (
       SELECT nextval(pg_get_serial_sequence('${ctx.schema}.events', 'seq')) AS q, r.*
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $11::text[], $12::text[], $13::text[]) WITH ORDINALITY AS r(s, i, p, ty, rg, rp, b, t, tp, ts, n)
     ), stored AS (
       INSERT INTO ${ctx.schema}.events (seq, source, id, provider, type, registry, repo, body, accepted_at, tag,
                                         traceparent, tracestate)
       SELECT q, s, i, p, ty, rg, rp, b, $8::bigint, t, tp, ts FROM fresh
     )
     INSERT INTO ${ctx.schema}.deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
     SELECT f.q, d.e, 'pending', 0, $8, $8, $8
       FROM unnest($9::bigint[], $10::text[]) WITH ORDINALITY AS d(n, e, k) JOIN fresh f ON f.n = d.n
      ORDER BY d.k`,
    [
      column((e) => e.event.source),
      column((e) => e.event.id),
      column((e) => e.event.provider),
      column((e) => e.event.type),
      column((e) => e.event.registry),
      column((e) => e.event.repo ?? null),
      column((e) => e.body),
      ctx.now,
      deliveryPositions,
      deliveryEmitters,
      column((e) => e.event.tag ?? null),
      column((e) => e.trace?.traceparent ?? null),
      column((e) => e.trace?.tracestate ?? null),
    ],
  );
  return [...new Set(deliveryEmitters)];
}

/** Pending rows across every replica, read before deciding on maxPending. */
export async function countPending(client: pg.ClientBase, schema: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${schema}.deliveries WHERE state = 'pending'`,
  );
  return rows[0].n;
}
