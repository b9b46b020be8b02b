import type { AttemptRecord } from '../types';
import type { StoreInspection } from './inspection';
import { settleRows, type RowMark } from './marks';
import { isUnavailable } from './postgres-connection';
import type { Sql } from './dialect';

/** Most rows one statement carries: far inside PostgreSQL's 65,535 parameters (attempt rows bind 11 each). */
const MAX_BATCH = 500;

interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: Error): void;
}

/**
 * Calls made in one loop turn, written as one statement (each answered with its own result).
 *
 * On PostgreSQL every statement is a round trip and a transaction of its own, and a drain settles
 * every delivery with two of them (its mark and its attempt row). Profiled under `make bench`,
 * those were 4,700 of the 6,200 statements of a ten-second ingest run, and the database's CPU they
 * took halved the rate at which it acknowledged webhooks. Batched per turn, they are a handful.
 *
 * A batch that fails for a reason other than the database being unavailable (one row the server
 * refuses) is written again row by row, so that one bad row fails only its own caller.
 */
export class TurnBatch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private scheduled = false;

  constructor(private readonly write: (items: T[]) => Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate: every attempt that ended in this turn joins the batch.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) void this.settle(all.slice(i, i + MAX_BATCH));
  }

  private async settle(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      if (batch.length > 1 && !isUnavailable(err)) {
        await Promise.all(batch.map((w) => this.settle([w])));
        return;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      for (const w of batch) w.reject(error);
    }
  }
}

/** PostgreSQL's delivery outcomes: the marks of a turn in one statement, its attempt rows in another. */
export class PostgresOutcomes {
  private readonly marks: TurnBatch<RowMark, boolean>;
  private readonly attempts: TurnBatch<AttemptRecord, void>;

  constructor(sql: Sql, inspection: StoreInspection) {
    this.marks = new TurnBatch(async (rows) => {
      const changed = await settleRows(sql, rows);
      return rows.map((r) => changed.has(r.id));
    });
    this.attempts = new TurnBatch(async (records) => {
      await inspection.recordAttempts(records);
      return records.map(() => undefined);
    });
  }

  /** Whether the row changed (it was still pending, under this lease). */
  settle(row: RowMark): Promise<boolean> {
    return this.marks.add(row);
  }

  record(attempt: AttemptRecord): Promise<void> {
    return this.attempts.add(attempt);
  }
}
