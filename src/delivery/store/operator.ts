import type { DeliveryCounts, DeliveryFilter, DeliveryPage, DeliverySettings, DropFilter, ListFilter } from '../types';
import type { TargetRecord, TargetState } from '../types';
import { truncateError } from './commit-group';
import type { Dialect, Sql } from './dialect';
import { DEFAULT_REQUEST_LOG_LIMITS, requestPruneStatements, type RequestLogLimits } from './request-log';
import { countsByEmitter, recordFromRow, type CountRow, type RecordRow } from './rows';

/**
 * The operator's queries (the CLI's list, replay and drop; counts; targets; pruning), written
 * once for both engines over a dialect. Writes answer what they changed with RETURNING, so an
 * engine can wake the dispatchers of the emitters concerned after the statement committed.
 */

/** Builds a WHERE clause and its parameters, numbered from 1 in the order they are added. */
class Clauses {
  readonly where: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly d: Dialect) {}

  add(clause: (placeholder: string) => string, value: unknown): void {
    this.params.push(value);
    this.where.push(clause(this.d.param(this.params.length)));
  }

  /** A parameter outside the WHERE clause (SET values, LIMIT), numbered like the rest. */
  next(value: unknown): string {
    this.params.push(value);
    return this.d.param(this.params.length);
  }

  get sql(): string {
    return this.where.length ? `WHERE ${this.where.join(' AND ')}` : '';
  }
}

/** The operator filters over `deliveries d JOIN events e`. */
function filterClauses(d: Dialect, filter: DeliveryFilter, clauses = new Clauses(d)): Clauses {
  if (filter.emitter !== undefined) clauses.add((p) => `d.emitter = ${p}`, filter.emitter);
  if (filter.eventId !== undefined) clauses.add((p) => `e.id = ${p}`, filter.eventId);
  if (filter.source !== undefined) clauses.add((p) => `e.source = ${p}`, filter.source);
  if (filter.ids !== undefined) clauses.add((p) => `d.id ${d.inList(p)}`, d.listValue(filter.ids));
  return clauses;
}

const joined = (d: Dialect) => `${d.table('deliveries')} d JOIN ${d.table('events')} e ON e.seq = d.event_seq`;

export async function listDeliveries({ dialect: d, run }: Sql, filter: ListFilter): Promise<DeliveryPage> {
  const clauses = filterClauses(d, filter);
  if (filter.state !== undefined) clauses.add((p) => `d.state = ${p}`, filter.state);
  const limit = filter.limit ?? 100;
  const where = clauses.sql;
  const rows = await run<RecordRow>(
    `SELECT d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
            d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
            d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at
       FROM ${joined(d)}
      ${where}
      ORDER BY d.id DESC
      LIMIT ${clauses.next(limit + 1)}`,
    clauses.params,
  );
  return { rows: rows.slice(0, limit).map(recordFromRow), truncated: rows.length > limit };
}

/**
 * Puts dead rows back in the queue as if new; `unlease` clears the lease columns where the engine
 * has them. Answers the emitter of each row replayed.
 */
export async function replayDeliveries(
  { dialect: d, run }: Sql,
  filter: DeliveryFilter,
  now: number,
  unlease: string,
): Promise<string[]> {
  // A placeholder per use: SQLite's `?` is positional, so none is written twice.
  const clauses = new Clauses(d);
  const set = `next_attempt_at = ${clauses.next(now)}, updated_at = ${clauses.next(now)}`;
  filterClauses(d, filter, clauses);
  const rows = await run<{ emitter: string }>(
    `UPDATE ${d.table('deliveries')} SET state = 'pending', attempts = 0, ${set}${unlease}
      WHERE state = 'dead' AND id IN (SELECT d.id FROM ${joined(d)} ${clauses.sql})
     RETURNING emitter`,
    clauses.params,
  );
  return rows.map((r) => r.emitter);
}

/** Deletes undelivered rows for good; answers how many. */
export async function dropDeliveries({ dialect: d, run }: Sql, filter: DropFilter): Promise<number> {
  const clauses = new Clauses(d);
  const states = clauses.next(d.listValue(filter.state ? [filter.state] : ['pending', 'dead']));
  filterClauses(d, filter, clauses);
  const rows = await run(
    `DELETE FROM ${d.table('deliveries')}
      WHERE state ${d.inList(states, 'text')} AND id IN (SELECT d.id FROM ${joined(d)} ${clauses.sql})
     RETURNING id`,
    clauses.params,
  );
  return rows.length;
}

export async function countDeliveries({ dialect: d, run }: Sql): Promise<DeliveryCounts[]> {
  const rows = await run<CountRow>(
    `SELECT emitter, state, count(*) AS n FROM ${d.table('deliveries')}
      WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
    [],
  );
  return countsByEmitter(rows);
}

/** Brings every pending row of `emitter` waiting on a backoff timer forward to `nowMs`; answers how many. */
export async function resumeTarget({ dialect: d, run }: Sql, emitter: string, nowMs: number): Promise<number> {
  const rows = await run(
    `UPDATE ${d.table('deliveries')} SET next_attempt_at = ${d.param(1)}
      WHERE emitter = ${d.param(2)} AND state = 'pending' AND next_attempt_at > ${d.param(3)}
     RETURNING id`,
    [nowMs, emitter, nowMs],
  );
  return rows.length;
}

interface TargetRow {
  emitter: string;
  state: TargetState;
  since: number;
  last_error: string | null;
  updated_at: number;
}

/** A target's circuit as the dispatcher last recorded it, for the operator in another process. */
export async function saveTarget({ dialect: d, run }: Sql, t: TargetRecord): Promise<void> {
  const p = [1, 2, 3, 4, 5].map((n) => d.param(n));
  await run(
    `INSERT INTO ${d.table('targets')} (emitter, state, since, last_error, updated_at)
     VALUES (${p.join(', ')})
     ON CONFLICT (emitter) DO UPDATE SET state = excluded.state, since = excluded.since,
            last_error = excluded.last_error, updated_at = excluded.updated_at`,
    [t.emitter, t.state, t.since, t.lastError === undefined ? null : truncateError(t.lastError), t.updatedAt],
  );
}

export async function listTargets({ dialect: d, run }: Sql): Promise<TargetRecord[]> {
  const rows = await run<TargetRow>(
    `SELECT emitter, state, since, last_error, updated_at FROM ${d.table('targets')} ORDER BY emitter`,
    [],
  );
  return rows.map((r) => {
    const record: TargetRecord = { emitter: r.emitter, state: r.state, since: r.since, updatedAt: r.updated_at };
    if (r.last_error !== null) record.lastError = r.last_error;
    return record;
  });
}

/** What pruning forgets, oldest first; each engine runs them in one transaction of its own. */
export interface PruneCutoffs {
  deliveredBefore: number;
  /** Dedup keys seen at or before this are forgotten. */
  dedupUntil: number;
  /** The request log: rows received before this go, then all but the newest `requestMaxRows`. */
  requestsBefore: number;
  requestMaxRows: number;
}

/** The cutoffs of a prune at `nowMs` under the store's retention settings. */
export function pruneCutoffs(
  settings: Pick<DeliverySettings, 'deliveredRetentionSeconds' | 'dedupWindowSeconds'>,
  requestLog: RequestLogLimits = DEFAULT_REQUEST_LOG_LIMITS,
  nowMs: number,
): PruneCutoffs & { nowMs: number } {
  return {
    nowMs,
    deliveredBefore: nowMs - settings.deliveredRetentionSeconds * 1000,
    dedupUntil: nowMs - settings.dedupWindowSeconds * 1000,
    requestsBefore: nowMs - requestLog.retentionHours * 3_600_000,
    requestMaxRows: requestLog.maxRows,
  };
}

/**
 * The prune, statement by statement: delivered rows past retention, the attempts and events
 * left with no row, dedup keys past the window, the request log past its retention and cap. Each answers with the count of rows it removed
 * where the result counts them.
 */
export function pruneStatements(d: Dialect, cutoffs: PruneCutoffs) {
  const deliveries = d.table('deliveries');
  return {
    deliveries: {
      text: `DELETE FROM ${deliveries} WHERE state = 'delivered' AND delivered_at < ${d.param(1)}`,
      params: [cutoffs.deliveredBefore],
    },
    attempts: {
      text: `DELETE FROM ${d.table('attempts')}
              WHERE NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d.id = ${d.table('attempts')}.delivery_id)`,
      params: [],
    },
    events: {
      text: `DELETE FROM ${d.table('events')}
              WHERE NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d.event_seq = ${d.table('events')}.seq)`,
      params: [],
    },
    dedupKeys: {
      text: `DELETE FROM ${d.table('dedup_keys')} WHERE seen_at <= ${d.param(1)}`,
      params: [cutoffs.dedupUntil],
    },
    requests: requestPruneStatements(d, cutoffs.requestsBefore, cutoffs.requestMaxRows),
  };
}
