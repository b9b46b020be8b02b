import type { TargetRecord, TargetState } from '../types';
import { truncateError } from './commit-group';
import type { Sql } from './postgres-operator';

interface TargetRow {
  emitter: string;
  state: TargetState;
  since: number;
  last_error: string | null;
  updated_at: number;
}

/**
 * Brings every pending row of `emitter` that waits on a backoff timer forward to `nowMs`, and in
 * the same statement wakes every replica's dispatcher for that emitter: the target is back.
 */
export async function resumeTarget(db: Sql, emitter: string, nowMs: number, channel: string): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `WITH resumed AS (
       UPDATE ${db.schema}.deliveries SET next_attempt_at = $2
        WHERE emitter = $1 AND state = 'pending' AND next_attempt_at > $2
       RETURNING id
     )
     SELECT (SELECT count(*)::int FROM resumed) AS n, pg_notify($3, $1::text)`,
    [emitter, nowMs, channel],
  );
  return rows[0]?.n ?? 0;
}

export async function saveTarget(db: Sql, t: TargetRecord): Promise<void> {
  await db.query(
    `INSERT INTO ${db.schema}.targets (emitter, state, since, last_error, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (emitter) DO UPDATE SET state = excluded.state, since = excluded.since,
            last_error = excluded.last_error, updated_at = excluded.updated_at`,
    [t.emitter, t.state, t.since, t.lastError === undefined ? null : truncateError(t.lastError), t.updatedAt],
  );
}

export async function listTargets(db: Sql): Promise<TargetRecord[]> {
  const rows = await db.query<TargetRow>(
    `SELECT emitter, state, since, last_error, updated_at FROM ${db.schema}.targets ORDER BY emitter`,
  );
  return rows.map((r) => {
    const record: TargetRecord = { emitter: r.emitter, state: r.state, since: r.since, updatedAt: r.updated_at };
    if (r.last_error !== null) record.lastError = r.last_error;
    return record;
  });
}
