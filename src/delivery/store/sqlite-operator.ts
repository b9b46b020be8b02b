import type Database from 'better-sqlite3';
import type { DeliveryFilter, DeliveryPage, DropFilter, ListFilter, TargetRecord } from '../types';
import { truncateError } from './commit-group';
import type { Statements } from './sqlite-statements';
import { recordFromRow, type RecordRow } from './rows';

/** WHERE clauses for the operator filters, over `deliveries d JOIN events e`. */
function filterClauses(filter: DeliveryFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.emitter !== undefined) {
    where.push('d.emitter = ?');
    params.push(filter.emitter);
  }
  if (filter.eventId !== undefined) {
    where.push('e.id = ?');
    params.push(filter.eventId);
  }
  if (filter.source !== undefined) {
    where.push('e.source = ?');
    params.push(filter.source);
  }
  if (filter.ids !== undefined) {
    where.push('d.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(filter.ids));
  }
  return { where, params };
}

const whereSql = (where: string[]) => (where.length ? `WHERE ${where.join(' AND ')}` : '');

export function listDeliveries(db: Database.Database, filter: ListFilter): DeliveryPage {
  const { where, params } = filterClauses(filter);
  if (filter.state !== undefined) {
    where.push('d.state = ?');
    params.push(filter.state);
  }
  const limit = filter.limit ?? 100;
  const rows = db
    .prepare<unknown[], RecordRow>(
      `SELECT d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
              d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
              d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
        ${whereSql(where)}
        ORDER BY d.id DESC
        LIMIT ?`,
    )
    .all(...params, limit + 1);
  return { rows: rows.slice(0, limit).map(recordFromRow), truncated: rows.length > limit };
}

/** A running gateway picks replayed rows up on its next poll: only it reads the file for delivery. */
export function replayDeliveries(db: Database.Database, filter: DeliveryFilter, now: number): number {
  const { where, params } = filterClauses(filter);
  return db
    .prepare(
      `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
        WHERE state = 'dead' AND id IN (
          SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq ${whereSql(where)})`,
    )
    .run(now, now, ...params).changes;
}

export function dropDeliveries(db: Database.Database, filter: DropFilter): number {
  const { where, params } = filterClauses(filter);
  const states = filter.state ? [filter.state] : ['pending', 'dead'];
  return db
    .prepare(
      `DELETE FROM deliveries
        WHERE state IN (SELECT value FROM json_each(?)) AND id IN (
          SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq ${whereSql(where)})`,
    )
    .run(JSON.stringify(states), ...params).changes;
}

/** A target's circuit as the dispatcher last recorded it, for the operator in another process. */
export function saveTargetRow(statements: Statements, t: TargetRecord): void {
  const lastError = t.lastError === undefined ? null : truncateError(t.lastError);
  statements.saveTarget.run(t.emitter, t.state, t.since, lastError, t.updatedAt);
}

export function targetRows(statements: Statements): TargetRecord[] {
  return statements.targets.all().map((r) => {
    const record: TargetRecord = { emitter: r.emitter, state: r.state, since: r.since, updatedAt: r.updated_at };
    if (r.last_error !== null) record.lastError = r.last_error;
    return record;
  });
}
