import type Database from 'better-sqlite3';
import type { RegistryEvent } from '../../model/event';
import type { DueDelivery, TargetState } from '../types';
import { storedTrace, type TraceColumns } from './trace-columns';

export interface DueRow extends TraceColumns {
  id: number;
  emitter: string;
  attempts: number;
  accepted_at: number;
  body: string;
}

export interface TargetRow {
  emitter: string;
  state: TargetState;
  since: number;
  last_error: string | null;
  updated_at: number;
}

/** A due row as the dispatcher takes it: the event parsed from the body stored at accept. */
export function dueDelivery(row: DueRow): DueDelivery {
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

const DUE_COLUMNS = `SELECT d.id, d.emitter, d.attempts, e.accepted_at, e.body, e.traceparent, e.tracestate
           FROM deliveries d JOIN events e ON e.seq = d.event_seq`;

/** Every statement the SQLite store runs on its hot paths, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    dedupSeenAt: db.prepare<[string, string], { seen_at: number }>(
      'SELECT seen_at FROM dedup_keys WHERE source = ? AND id = ?',
    ),
    dedupRemember: db.prepare<[string, string, number]>(
      `INSERT INTO dedup_keys (source, id, seen_at) VALUES (?, ?, ?)
       ON CONFLICT (source, id) DO UPDATE SET seen_at = excluded.seen_at`,
    ),
    insertEvent: db.prepare<
      [
        string,
        string,
        string,
        string,
        string,
        string | null,
        string | null,
        string,
        number,
        string | null,
        string | null,
      ]
    >(
      `INSERT INTO events (source, id, provider, type, registry, repo, tag, body, accepted_at, traceparent, tracestate)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertDelivery: db.prepare<[number | bigint, string, number, number, number]>(
      `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
    ),
    countPending: db.prepare<[], number>(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).pluck(),
    due: db.prepare<[string, number, string, number], DueRow>(
      `${DUE_COLUMNS}
          WHERE d.emitter = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
            AND d.id NOT IN (SELECT value FROM json_each(?))
          ORDER BY d.next_attempt_at, d.id
          LIMIT ?`,
    ),
    // A circuit probe: the soonest row whatever its backoff says.
    dueAnyTime: db.prepare<[string, string, number], DueRow>(
      `${DUE_COLUMNS}
          WHERE d.emitter = ? AND d.state = 'pending'
            AND d.id NOT IN (SELECT value FROM json_each(?))
          ORDER BY d.next_attempt_at, d.id
          LIMIT ?`,
    ),
    // In index order, stepping over this process's own claims: min() with NOT IN would read every
    // pending row of the emitter, on every pump (a third of the CPU under a backlog, profiled).
    nextDueAt: db
      .prepare<[string, string], number | undefined>(
        `SELECT next_attempt_at FROM deliveries
          WHERE emitter = ? AND state = 'pending' AND id NOT IN (SELECT value FROM json_each(?))
          ORDER BY next_attempt_at LIMIT 1`,
      )
      .pluck(),
    markDelivered: db.prepare<[number, number, number, number]>(
      `UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL,
              delivered_at = ?, updated_at = ?
        WHERE id = ? AND state = 'pending'`,
    ),
    markRetry: db.prepare<[number, number, string, number, number]>(
      `UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
        WHERE id = ? AND state = 'pending'`,
    ),
    markDead: db.prepare<[number, string, number, number]>(
      `UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?, updated_at = ?
        WHERE id = ? AND state = 'pending'`,
    ),
    resume: db.prepare<[number, string, number]>(
      `UPDATE deliveries SET next_attempt_at = ?
        WHERE emitter = ? AND state = 'pending' AND next_attempt_at > ?`,
    ),
    saveTarget: db.prepare<[string, TargetState, number, string | null, number]>(
      `INSERT INTO targets (emitter, state, since, last_error, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (emitter) DO UPDATE SET state = excluded.state, since = excluded.since,
              last_error = excluded.last_error, updated_at = excluded.updated_at`,
    ),
    targets: db.prepare<[], TargetRow>(
      'SELECT emitter, state, since, last_error, updated_at FROM targets ORDER BY emitter',
    ),
    counts: db.prepare<[], { emitter: string; state: 'pending' | 'dead'; n: number }>(
      `SELECT emitter, state, count(*) AS n FROM deliveries
        WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
    ),
    pruneDelivered: db.prepare<[number]>(`DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?`),
    pruneEvents: db.prepare(
      `DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)`,
    ),
    pruneDedup: db.prepare<[number]>(`DELETE FROM dedup_keys WHERE seen_at <= ?`),
    pruneAttempts: db.prepare(
      `DELETE FROM attempts WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = attempts.delivery_id)`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
