import type { SharedWindows, WindowClaim } from '../../emitters/types';
import type { SchemaSql } from './postgres-connection';

/**
 * Shared windows as rows: opening one is an upsert that only replaces a window already over, so
 * of several replicas opening the same key at once exactly one gets the row back.
 */
export class PostgresWindows implements SharedWindows {
  constructor(private readonly db: SchemaSql) {}

  async open(key: string, nowMs: number, windowMs: number): Promise<WindowClaim> {
    const s = this.db.schema;
    const opened = await this.db.query(
      `INSERT INTO ${s}.windows (key, started_at, ends_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET started_at = excluded.started_at, ends_at = excluded.ends_at
        WHERE ${s}.windows.ends_at <= $2
       RETURNING key`,
      [key, nowMs, nowMs + windowMs],
    );
    if (opened.length > 0) return { opened: true };
    const [running] = await this.db.query<{ started_at: number; ends_at: number }>(
      `SELECT started_at, ends_at FROM ${s}.windows WHERE key = $1`,
      [key],
    );
    // Pruned between the two statements: nothing is running, so this caller may open it next time.
    if (!running) return { opened: false, startedAt: -Infinity, endsAt: nowMs };
    return { opened: false, startedAt: running.started_at, endsAt: running.ends_at };
  }
}
