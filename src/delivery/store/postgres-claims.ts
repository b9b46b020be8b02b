import type { RegistryEvent } from '../../model/event';
import type { DueDelivery } from '../types';
import type { Sql } from './postgres-operator';
import { storedTrace, type TraceColumns } from './trace-columns';

interface ClaimRow extends TraceColumns {
  id: number;
  emitter: string;
  attempts: number;
  previous_owner: string | null;
  lease_generation: number;
  accepted_at: number;
  body: string;
}

export interface LeaseRequest {
  emitter: string;
  nowMs: number;
  limit: number;
  owner: string;
  leaseUntil: number;
  /** A circuit probe: the soonest row whatever its backoff timer, but never one another replica holds. */
  anyDueTime?: boolean;
}

/**
 * Leases due rows in one statement. SKIP LOCKED lets replicas claim side by side without waiting
 * on each other's rows; a row whose lease lapsed (its replica died) counts as due again.
 */
export interface LeasedDelivery extends DueDelivery {
  previousOwner: string | null;
  /** The lease's fencing token: marks and renewals name it. */
  generation: number;
}

export async function leaseDue(db: Sql, r: LeaseRequest): Promise<LeasedDelivery[]> {
  const s = db.schema;
  const rows = await db.query<ClaimRow>(
    `WITH due AS (
       SELECT id, lease_owner FROM ${s}.deliveries
        WHERE emitter = $1 AND state = 'pending' AND (next_attempt_at <= $2 OR $6)
          AND (lease_until IS NULL OR lease_until <= $2)
        ORDER BY next_attempt_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
     ), leased AS (
       UPDATE ${s}.deliveries d
          SET lease_owner = $4, lease_until = $5, lease_generation = d.lease_generation + 1
         FROM due WHERE d.id = due.id
       RETURNING d.id, d.emitter, d.attempts, d.event_seq, d.lease_generation, due.lease_owner AS previous_owner
     )
     SELECT l.id, l.emitter, l.attempts, l.previous_owner, l.lease_generation, e.accepted_at, e.body,
            e.traceparent, e.tracestate
       FROM leased l JOIN ${s}.events e ON e.seq = l.event_seq
      ORDER BY l.id`,
    [r.emitter, r.nowMs, r.limit, r.owner, r.leaseUntil, r.anyDueTime === true],
  );
  return rows.map((row) => {
    const leased: LeasedDelivery = {
      id: row.id,
      emitter: row.emitter,
      attempts: row.attempts,
      acceptedAt: row.accepted_at,
      event: JSON.parse(row.body) as RegistryEvent,
      previousOwner: row.previous_owner,
      generation: row.lease_generation,
    };
    const trace = storedTrace(row);
    if (trace) leased.trace = trace;
    return leased;
  });
}

/** Unleased rows by their due time; rows leased by another replica when that lease lapses. */
export async function nextDue(db: Sql, emitter: string, owner: string): Promise<number | undefined> {
  const s = db.schema;
  const rows = await db.query<{ at: number | null }>(
    `SELECT min(at) AS at FROM (
       (SELECT next_attempt_at AS at FROM ${s}.deliveries
         WHERE emitter = $1 AND state = 'pending' AND lease_owner IS NULL
         ORDER BY next_attempt_at LIMIT 1)
       UNION ALL
       (SELECT greatest(next_attempt_at, lease_until) FROM ${s}.deliveries
         WHERE emitter = $1 AND state = 'pending' AND lease_owner IS NOT NULL AND lease_owner <> $2)
     ) due`,
    [emitter, owner],
  );
  return rows[0]?.at ?? undefined;
}
