import type { Exchange } from '../../emitters/exchange';
import type { AttemptRecord } from '../types';
import { truncateError } from './commit-group';
import type { Dialect } from './dialect';
import type { Statement } from './steps';

/** The attempts table's columns, in the order `attemptValues` binds them; the same on both engines. */
export const ATTEMPT_COLUMNS =
  'delivery_id, emitter, attempt, started_at, duration_ms, ok, status, error, probe, counted, exchanges';

/** An attempts row as selected, with SQL's nulls; booleans are 0/1 on SQLite. */
export interface AttemptRow {
  delivery_id: number;
  emitter: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  ok: number | boolean;
  status: number | null;
  error: string | null;
  probe: number | boolean;
  counted: number | boolean;
  exchanges: string | null;
}

export function attemptValues(sql: Dialect, a: AttemptRecord): unknown[] {
  return [
    a.deliveryId,
    a.emitter,
    a.attempt,
    Math.round(a.startedAt),
    Math.round(a.durationMs),
    sql.boolValue(a.ok),
    a.status ?? null,
    a.error === undefined ? null : truncateError(a.error),
    sql.boolValue(a.probe === true),
    sql.boolValue(a.counted !== false),
    // Each answer body is cut at 4 KB and an attempt keeps at most 8 exchanges (exchange.ts).
    a.exchanges && a.exchanges.length > 0 ? JSON.stringify(a.exchanges) : null,
  ];
}

/**
 * The statement that writes attempt rows, however many, written once for both engines;
 * `param` is the number of its first parameter, for a statement that embeds it.
 */
export function attemptRowsStatement(d: Dialect, attempts: readonly AttemptRecord[], param = 1): Statement {
  const params: unknown[] = [];
  const rows = attempts.map((a) => {
    const values = attemptValues(d, a);
    const first = param + params.length;
    params.push(...values);
    return `(${values.map((_, i) => d.param(first + i)).join(', ')})`;
  });
  return { text: `INSERT INTO ${d.table('attempts')} (${ATTEMPT_COLUMNS}) VALUES ${rows.join(', ')}`, params };
}

/** A history file written by an older version, or edited by hand, shows no exchanges rather than failing. */
function exchangesOf(text: string | null): Exchange[] | undefined {
  if (text === null) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) && parsed.length > 0 ? (parsed as Exchange[]) : undefined;
  } catch {
    return undefined;
  }
}

export function attemptFromRow(row: AttemptRow): AttemptRecord {
  const record: AttemptRecord = {
    deliveryId: Number(row.delivery_id),
    emitter: row.emitter,
    attempt: row.attempt,
    startedAt: Number(row.started_at),
    durationMs: row.duration_ms,
    ok: Boolean(row.ok),
  };
  if (row.status !== null) record.status = row.status;
  if (row.error !== null) record.error = row.error;
  if (row.probe) record.probe = true;
  if (!row.counted) record.counted = false;
  const exchanges = exchangesOf(row.exchanges);
  if (exchanges) record.exchanges = exchanges;
  return record;
}
