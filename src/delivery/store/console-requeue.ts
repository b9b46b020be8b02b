import type { EventQuery } from '../types';
import { eventWhere } from './event-filter';
import type { Dialect, RunSql, Sql } from './dialect';

/** More rows than one confirmation should ever act on; the operator narrows the filter instead. */
export const MAX_BULK_ROWS = 10_000;

/**
 * The console's requeueing actions, written once for both engines. They change rows the
 * dispatcher may be attempting right now, which is safe: a mark settles only a pending row, and
 * a row made due while in flight is simply looked at again after its attempt settles.
 */
export class ConsoleRequeue {
  private readonly sql: Dialect;
  private readonly run: RunSql;

  constructor(port: Sql) {
    this.sql = port.dialect;
    this.run = port.run;
  }

  /** Pending rows among `ids` become due at `nowMs`; resolves how many. */
  async retryNow(ids: number[], nowMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    const p = (n: number) => this.sql.param(n);
    const rows = await this.run<{ id: number }>(
      `UPDATE ${this.sql.table('deliveries')} SET next_attempt_at = ${p(1)}, updated_at = ${p(2)}
        WHERE state = 'pending' AND id ${this.sql.inList(p(3))} RETURNING id`,
      [nowMs, nowMs, this.sql.listValue(ids)],
    );
    return rows.length;
  }

  /**
   * A delivered row is never reopened: its record (when, after how many attempts, with which
   * answers) stays as it was. Each delivered row among `ids` gets a new pending row for the same
   * event and emitter, due at `nowMs`, carrying `note`; resolves how many.
   */
  async sendAgain(ids: number[], note: string, nowMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    const p = (n: number) => this.sql.param(n);
    const deliveries = this.sql.table('deliveries');
    const rows = await this.run<{ id: number }>(
      `INSERT INTO ${deliveries} (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at, note)
       SELECT event_seq, emitter, 'pending', 0, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)} FROM ${deliveries}
        WHERE state = 'delivered' AND id ${this.sql.inList(p(5))} RETURNING id`,
      [nowMs, nowMs, nowMs, note, this.sql.listValue(ids)],
    );
    return rows.length;
  }

  /** The dead rows of the events `query` selects (its cursor ignored), at most MAX_BULK_ROWS of them. */
  async deadIds(query: EventQuery): Promise<number[]> {
    const { where, params } = eventWhere(this.sql, { ...query, before: undefined });
    params.push(MAX_BULK_ROWS);
    const rows = await this.run<{ id: number }>(
      `SELECT d.id FROM ${this.sql.table('deliveries')} d JOIN ${this.sql.table('events')} e ON e.seq = d.event_seq
        WHERE d.state = 'dead' ${where.map((w) => `AND ${w}`).join(' ')}
        ORDER BY d.id LIMIT ${this.sql.param(params.length)}`,
      params,
    );
    return rows.map((r) => Number(r.id));
  }
}
