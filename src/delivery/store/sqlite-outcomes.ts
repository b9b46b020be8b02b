import type Database from 'better-sqlite3';

interface Queued {
  work: () => unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * The delivery outcomes of one loop turn (marks and attempt rows), written in one transaction.
 *
 * Written one by one, each was a commit of its own: its own WAL frames for the same few pages
 * (the delivery row's page, the due index, the attempts table) and its own turn at the file's
 * write lock. Profiled under a drain, those commits were a quarter of the delivery thread's time.
 * Grouped per loop turn, the pages are written once for every outcome in the turn.
 *
 * The transaction runs without an fsync of its own (synchronous=NORMAL): the next accepted
 * group's fsync makes it durable with it, since the WAL is one file written in order. Power lost
 * before that forgets an outcome, so the delivery is made again, which at-least-once allows.
 * Each caller is answered after the commit, with its own statement's result: a statement that
 * fails fails only its own caller (SQLite undoes just that statement).
 */
export class OutcomeWriter {
  private queue: Queued[] = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database.Database,
    /** The store's way to write: the writer lock, and the volume's health noted on the way. */
    private readonly write: <T>(work: () => T) => Promise<T>,
  ) {}

  /** Queues `work` (synchronous statements) for this turn's transaction; answers its result once committed. */
  add<T>(work: () => T): Promise<Awaited<T>> {
    return new Promise<Awaited<T>>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Writes what is queued now; resolves when every outcome queued so far is written. */
  flush(): Promise<void> {
    this.scheduled = false;
    if (this.queue.length > 0) this.flushing = this.flushing.then(() => this.commit());
    return this.flushing;
  }

  /**
   * The batch is what is queued once the writer lock is held, not when the commit was scheduled:
   * outcomes that arrive while this thread waits for the lock join the write it waits to make.
   */
  private async commit(): Promise<void> {
    let batch: Queued[] = [];
    const take = () => {
      batch = this.queue;
      this.queue = [];
      return batch;
    };
    let results: unknown[];
    try {
      results = await this.write(() => {
        const taken = take();
        return taken.length === 0 ? [] : this.withoutFsync(() => taken.map((q) => this.attempt(q)));
      });
    } catch (err) {
      // Refused before it ran (the lock or the volume): what is queued is what it was to write.
      if (batch.length === 0) take();
      for (const q of batch) q.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    batch.forEach((q, i) => q.resolve(results[i]));
  }

  /** One caller's statements inside the shared transaction; a throw is kept as that caller's answer. */
  private attempt(q: Queued): unknown {
    try {
      return q.work();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private withoutFsync<T>(work: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(work).immediate();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }
}
