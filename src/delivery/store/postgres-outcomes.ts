import type { AttemptRecord } from '../types';
import { attemptRowsStatement } from './attempt-rows';
import type { Sql } from './dialect';
import { changedIds, settleRowsStatement, type RowMark } from './marks';
import { isUnavailable } from './postgres-connection';
import type { Statement } from './steps';

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
 * On PostgreSQL every statement is a round trip and a transaction of its own, and delivery settled
 * each attempt with two of them (its mark and its attempt row): in a PostgreSQL run of `make
 * bench` they were 4,700 of the 6,200 statements the database ran, and the CPU they took from it
 * was CPU its acknowledgements waited for. A turn's outcomes are now one statement.
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

/** One outcome of an attempt: the mark of its row, or its row in the attempt history. */
type Outcome = { mark: RowMark } | { attempt: AttemptRecord };

/**
 * PostgreSQL's delivery outcomes: the marks and attempt rows of one loop turn in one statement
 * (an attempt's row and its mark are written in the same turn, so a turn of n attempts was 2n).
 */
export class PostgresOutcomes {
  private readonly batch: TurnBatch<Outcome, boolean>;

  constructor(private readonly sql: Sql) {
    this.batch = new TurnBatch((outcomes) => this.write(outcomes));
  }

  /** Whether the row changed (it was still pending, under this lease). */
  settle(mark: RowMark): Promise<boolean> {
    return this.batch.add({ mark });
  }

  async record(attempt: AttemptRecord): Promise<void> {
    await this.batch.add({ attempt });
  }

  private async write(outcomes: Outcome[]): Promise<boolean[]> {
    const d = this.sql.dialect;
    const marks = outcomes.flatMap((o) => ('mark' in o ? [o.mark] : []));
    const attempts = outcomes.flatMap((o) => ('attempt' in o ? [o.attempt] : []));
    const history = attempts.length > 0 ? attemptRowsStatement(d, attempts) : undefined;
    let statement: Statement;
    if (marks.length === 0) statement = history!;
    else {
      const settle = settleRowsStatement(d, marks, (history?.params.length ?? 0) + 1);
      // A data-modifying WITH runs whatever the main statement returns; both commit together.
      statement = history
        ? { text: `WITH recorded AS (${history.text}) ${settle.text}`, params: [...history.params, ...settle.params] }
        : settle;
    }
    const changed = changedIds(await this.sql.run<{ id: unknown }>(statement.text, statement.params));
    return outcomes.map((o) => 'mark' in o && changed.has(o.mark.id));
  }
}
