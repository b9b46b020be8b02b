import type Database from 'better-sqlite3';
import type { RegistryEvent } from '../../model/event';
import type { DueDelivery } from '../types';
import type { SchemaSql } from './postgres-connection';
import { storedTrace, type TraceColumns } from './trace-columns';

/**
 * How a delivery is claimed, the two strategies side by side. Both hand out up to `limit` due
 * rows of one emitter in one query, soonest first, and never a row someone is attempting:
 *
 * - SQLite: one process delivers from the file, so the rows it is attempting are excluded in
 *   memory; after a crash every row that was in flight is simply pending again.
 * - PostgreSQL: replicas share the rows, so a claim takes a lease in the row (owner, end, fencing
 *   generation) with `FOR UPDATE SKIP LOCKED`: replicas claim side by side without waiting on
 *   each other, and a lease that lapsed (its replica died) makes the row due again.
 */

/** A due row as both strategies select it, with the trace its event was accepted in. */
interface DueRow extends TraceColumns {
  id: number;
  emitter: string;
  attempts: number;
  accepted_at: number;
  body: string;
}

/** A due row as the dispatcher takes it: the event parsed from the body stored at accept. */
function dueDelivery(row: DueRow): DueDelivery {
  const due: DueDelivery = {
    id: row.id,
    emitter: row.emitter,
    attempts: row.attempts,
    acceptedAt: row.accepted_at,
    event: JSON.parse(row.body) as RegistryEvent,
  };
  const trace = storedTrace(row);
  if (trace) due.trace = trace;
  return due;
}

/** SQLite: the rows this process is attempting, excluded from its claims until settled. */
export class InProcessClaims {
  private readonly held = new Set<number>();
  private readonly due;
  private readonly dueAnyTime;
  private readonly next;

  constructor(db: Database.Database) {
    const due = (when: string) =>
      `SELECT d.id, d.emitter, d.attempts, e.accepted_at, e.body, e.traceparent, e.tracestate
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
        WHERE d.emitter = ? AND d.state = 'pending' ${when}
          AND d.id NOT IN (SELECT value FROM json_each(?))
        ORDER BY d.next_attempt_at, d.id
        LIMIT ?`;
    this.due = db.prepare<[string, number, string, number], DueRow>(due('AND d.next_attempt_at <= ?'));
    // A circuit probe: the soonest row whatever its backoff says.
    this.dueAnyTime = db.prepare<[string, string, number], DueRow>(due(''));
    // In index order, stepping over this process's own claims: min() with NOT IN would read every
    // pending row of the emitter, on every pump (a third of the CPU under a backlog, profiled).
    this.next = db
      .prepare<[string, string], number | undefined>(
        `SELECT next_attempt_at FROM deliveries
          WHERE emitter = ? AND state = 'pending' AND id NOT IN (SELECT value FROM json_each(?))
          ORDER BY next_attempt_at LIMIT 1`,
      )
      .pluck();
  }

  claim(emitter: string, nowMs: number, limit: number, anyDueTime = false): DueDelivery[] {
    const held = JSON.stringify([...this.held]);
    const rows = anyDueTime ? this.dueAnyTime.all(emitter, held, limit) : this.due.all(emitter, nowMs, held, limit);
    return rows.map((row) => {
      this.held.add(row.id);
      return dueDelivery(row);
    });
  }

  nextDueAt(emitter: string): number | undefined {
    return this.next.get(emitter, JSON.stringify([...this.held]));
  }

  /** The row is settled or given back: claimable again (if still pending). */
  release(id: number): void {
    this.held.delete(id);
  }
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

export interface LeasedDelivery extends DueDelivery {
  previousOwner: string | null;
  /** The lease's fencing token: marks and renewals name it. */
  generation: number;
}

/** PostgreSQL: leases due rows in one statement. */
export async function leaseDue(db: SchemaSql, r: LeaseRequest): Promise<LeasedDelivery[]> {
  const s = db.schema;
  const rows = await db.query<DueRow & { previous_owner: string | null; lease_generation: number }>(
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
  return rows.map((row) => ({
    ...dueDelivery(row),
    previousOwner: row.previous_owner,
    generation: row.lease_generation,
  }));
}

/** PostgreSQL: unleased rows by their due time; rows leased by another replica when that lease lapses. */
export async function nextDueUnleased(db: SchemaSql, emitter: string, owner: string): Promise<number | undefined> {
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
