import { threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** What a thread sees when another thread has held the lock this long: the file is busy (a 503). */
const DEFAULT_TIMEOUT_MS = 5000;

/**
 * One writer at a time between the threads of one process that each hold a connection to the same
 * SQLite file (the webhook listener and the delivery worker, runtime/delivery-thread.ts).
 *
 * SQLite would serialise them by itself, but its busy handler waits by sleeping 1, 2, 5, 10 ... up
 * to 100 ms between tries. The listener commits a group every loop turn, so under load the
 * delivery thread slept through almost every chance to mark a delivery (under 200 deliveries a
 * second against 3,000 accepts), and the listener slept in turn, its whole event loop with it,
 * whenever the worker had the file. This lock hands the file over the moment it is free: the
 * waiter sleeps on a futex (Atomics.wait) that the holder's release wakes.
 *
 * The lock is a word in shared memory holding the holder's thread id + 1 (0 = free), reentrant
 * within a thread: writes of one thread already run one at a time on its one connection, and an
 * async write that holds the lock across an await must not shut out the same thread's next one.
 * Other processes (the operator CLI) are still kept apart by SQLite's own lock.
 */
export class WriterLock {
  private readonly word: Int32Array;
  private readonly me = threadId + 1;
  private depth = 0;

  constructor(
    shared: SharedArrayBuffer,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.word = new Int32Array(shared, 0, 1);
  }

  /** The memory the threads share: created once, handed to each thread's store. */
  static memory(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  /**
   * Frees the lock if a thread that is gone held it (a worker cut short mid-write never reached
   * its release), so the threads left do not wait on it for ever.
   */
  static abandon(shared: SharedArrayBuffer, goneThreadId: number): void {
    const word = new Int32Array(shared, 0, 1);
    if (Atomics.compareExchange(word, 0, goneThreadId + 1, 0) === goneThreadId + 1) Atomics.notify(word, 0);
  }

  /** Runs `work` holding the lock; an async `work` holds it until its promise settles. */
  hold<T>(work: () => T | Promise<T>): T | Promise<T> {
    this.acquire();
    let result: T | Promise<T>;
    try {
      result = work();
    } catch (err) {
      this.release();
      throw err;
    }
    if (!(result instanceof Promise)) {
      this.release();
      return result;
    }
    return result.finally(() => this.release());
  }

  private acquire(): void {
    if (this.depth > 0) {
      this.depth++;
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const holder = Atomics.compareExchange(this.word, 0, 0, this.me);
      if (holder === 0) break;
      const left = deadline - Date.now();
      // The same error SQLite's own busy timeout raises, so callers answer it the same way (503).
      if (left <= 0)
        throw new Database.SqliteError('the store is busy: another thread held it too long', 'SQLITE_BUSY');
      Atomics.wait(this.word, 0, holder, left);
    }
    this.depth = 1;
  }

  private release(): void {
    if (--this.depth > 0) return;
    Atomics.store(this.word, 0, 0);
    Atomics.notify(this.word, 0, 1);
  }
}
