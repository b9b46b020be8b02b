import type pg from 'pg';
import type { AcceptResult } from '../types';
import { tooManyPending, type AcceptCall, type CallOutcome } from './commit-group';
import type { Metrics } from '../../observability/metrics';
import type { CollapseOptions } from './held-parts';
import { assembleGroup } from './postgres-assembly';

export interface AcceptContext {
  /** Quoted schema name. */
  schema: string;
  /** NOTIFY channel (quoted-safe literal) that wakes the dispatchers of every replica. */
  channel: string;
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

/**
 * One commit group in one transaction, a handful of round trips whatever its size. Freshness is
 * decided by the unique key: an insert that meets a committed (source, id) still inside the window
 * returns nothing, and one that meets another replica's uncommitted insert waits for it. So the
 * same event posted to two replicas at once is stored once.
 */
export async function commitAccepts(
  client: pg.ClientBase,
  calls: AcceptCall[],
  ctx: AcceptContext,
): Promise<CallOutcome[]> {
  const dedup = ctx.dedupWindowMs > 0;
  const windowStart = ctx.now - ctx.dedupWindowMs;

  // Repeats inside the group are duplicates of their first occurrence, whatever the database says.
  const firsts: Slot[] = [];
  const seen = new Set<string>();
  const repeat = calls.map((call, c) =>
    call.map(({ event }, i) => {
      if (!dedup) {
        firsts.push({ call: c, index: i, key: '' });
        return false;
      }
      const key = keyOf(event.source, event.id);
      if (seen.has(key)) return true;
      seen.add(key);
      firsts.push({ call: c, index: i, key });
      return false;
    }),
  );

  const full = ctx.maxPending > 0 && ctx.pending >= ctx.maxPending;
  let fresh: Set<string> | undefined;
  if (dedup) {
    const sources = firsts.map((s) => calls[s.call][s.index].event.source);
    const ids = firsts.map((s) => calls[s.call][s.index].event.id);
    // When full, only look: duplicates are still answered (their sender must stop retrying), the
    // rest is refused, and nothing may be remembered for a refused event.
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
    fresh = new Set(rows.map((r) => keyOf(r.source, r.id)));
  }
  const isFresh = (slot: Slot) => !dedup || fresh!.has(slot.key);

  const outcomes: CallOutcome[] = calls.map((call, c) =>
    call.map(({ event }, i): AcceptResult => ({ event, duplicate: repeat[c][i] })),
  );
  const stored = firsts.filter((slot) => {
    if (isFresh(slot)) return true;
    (outcomes[slot.call] as AcceptResult[])[slot.index].duplicate = true;
    return false;
  });
  if (full) {
    const refused = new Set(stored.map((s) => s.call));
    for (const c of refused) outcomes[c] = tooManyPending(ctx.pending, ctx.maxPending);
    return outcomes;
  }
  if (stored.length === 0) return outcomes;

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
  if (events.length === 0) return outcomes;

  // Sequence numbers first, so each delivery row can name its event in the same statement.
  const { rows: seqRows } = await client.query<{ seq: number }>(
    `SELECT nextval(pg_get_serial_sequence('${ctx.schema}.events', 'seq')) AS seq FROM generate_series(1, $1::int)`,
    [events.length],
  );
  const seqs = seqRows.map((r) => r.seq);
  const deliverySeqs: number[] = [];
  const deliveryEmitters: string[] = [];
  events.forEach((e, n) => {
    for (const emitter of e.emitters) {
      deliverySeqs.push(seqs[n]);
      deliveryEmitters.push(emitter);
    }
  });
  await client.query(
    `WITH stored AS (
       INSERT INTO ${ctx.schema}.events (seq, source, id, provider, type, registry, repo, body, accepted_at, tag,
                                         traceparent, tracestate)
       SELECT q, s, i, p, ty, rg, rp, b, $9::bigint, t, tp, ts
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $12::text[], $13::text[], $14::text[])
           AS r(q, s, i, p, ty, rg, rp, b, t, tp, ts)
     )
     INSERT INTO ${ctx.schema}.deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
     SELECT s, e, 'pending', 0, $9, $9, $9 FROM unnest($10::bigint[], $11::text[]) AS d(s, e)`,
    [
      seqs,
      events.map((e) => e.event.source),
      events.map((e) => e.event.id),
      events.map((e) => e.event.provider),
      events.map((e) => e.event.type),
      events.map((e) => e.event.registry),
      events.map((e) => e.event.repo ?? null),
      events.map((e) => e.body),
      ctx.now,
      deliverySeqs,
      deliveryEmitters,
      events.map((e) => e.event.tag ?? null),
      events.map((e) => e.trace?.traceparent ?? null),
      events.map((e) => e.trace?.tracestate ?? null),
    ],
  );
  const woken = [...new Set(deliveryEmitters)];
  // Delivered with the commit, never before it: a woken dispatcher always finds the rows.
  if (woken.length > 0) await client.query('SELECT pg_notify($1, $2)', [ctx.channel, woken.join(',')]);
  return outcomes;
}
