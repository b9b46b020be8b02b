import { threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** What a thread sees when another thread has held the lock this long: the file is busy (a 503). */
const DEFAULT_TIMEOUT_MS = 5000;

/** ES2024's `Atomics.waitAsync` (in Node since 16), typed here as the project's ES2022 library lacks it. */
interface AtomicsWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
    timeoutMs: number,
  ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}

/** Slots of the shared words: who holds the lock, who waits for it, who took it last. */
const HOLDER = 0;
const WAITER = 1;
const LAST = 2;

/**
 * How long a thread that just wrote lets a waiting thread go first. The waiter takes the lock as
 * soon as its own event loop gets to it (usually well under a millisecond); this bounds the
 * courtesy when it is slow to, so the yielding thread is never held up by more.
 */
const YIELD_MS = 5;

/**
 * One writer at a time between the threads of one process that each hold a connection to the same
 * SQLite file (the webhook listener and the delivery worker, runtime/delivery-thread.ts).
 *
 * SQLite would serialise them by itself, but its busy handler waits by sleeping 1, 2, 5, 10 ... up
 * to 100 ms between tries. The listener commits a group every loop turn, so under load the
 * delivery thread slept through almost every chance to mark a delivery (under 200 deliveries a
 * second against 3,000 accepts), and the listener slept in turn, its whole event loop with it,
 * whenever the worker had the file. This lock hands the file over the moment it is free: the
 * waiter sleeps on a futex that the holder's release wakes.
 *
 * Two more rules, from the kernel's view of a warm run (`perf trace`): the delivery thread spent
 * 44 % of its time asleep on this lock while delivering a third of what was accepted.
 * - **Turns.** A thread that took the lock last does not take it again while another thread waits
 *   (for at most YIELD_MS): the listener, committing a group every loop turn, was back on the
 *   lock before the woken worker got to it.
 * - **Waiting without blocking.** `holdAsync` waits with `Atomics.waitAsync`, so the delivery
 *   thread's event loop goes on (requests to targets answered, outcomes queued for the write it
 *   waits to make) instead of sleeping.
 *
 * The words hold thread ids + 1 (0 = none). The lock is reentrant within a thread: writes of one
 * thread already run one at a time on its one connection, and an async write that holds the lock
 * across an await must not shut out the same thread's next one. Other processes (the operator
 * CLI) are still kept apart by SQLite's own lock.
 */
export class WriterLock {
  private readonly word: Int32Array;
  private readonly me = threadId + 1;
  private depth = 0;

  constructor(
    shared: SharedArrayBuffer,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    private readonly yieldMs = YIELD_MS,
  ) {
    this.word = new Int32Array(shared, 0, 3);
  }

  /** The memory the threads share: created once, handed to each thread's store. */
  static memory(): SharedArrayBuffer {
    return new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  }

  /**
   * Frees the lock if a thread that is gone held it (a worker cut short mid-write never reached
   * its release), so the threads left do not wait on it for ever, nor give way to it.
   */
  static abandon(shared: SharedArrayBuffer, goneThreadId: number): void {
    const word = new Int32Array(shared, 0, 3);
    Atomics.compareExchange(word, WAITER, goneThreadId + 1, 0);
    if (Atomics.compareExchange(word, HOLDER, goneThreadId + 1, 0) === goneThreadId + 1) Atomics.notify(word, HOLDER);
  }

  /** Runs `work` holding the lock, waiting for it by blocking this thread; an async `work` holds it until it settles. */
  hold<T>(work: () => T | Promise<T>): T | Promise<T> {
    if (this.depth > 0) this.depth++;
    else this.acquire();
    return this.run(work);
  }

  /** Like `hold`, but waits for the lock without blocking this thread's event loop. */
  async holdAsync<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.depth > 0) this.depth++;
    else await this.acquireAsync();
    return this.run(work);
  }

  private run<T>(work: () => T | Promise<T>): T | Promise<T> {
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
    const deadline = Date.now() + this.timeoutMs;
    if (this.shouldGiveWay()) Atomics.wait(this.word, LAST, this.me, this.yieldMs);
    try {
      for (;;) {
        const holder = Atomics.compareExchange(this.word, HOLDER, 0, this.me);
        if (holder === 0) return this.took();
        Atomics.store(this.word, WAITER, this.me);
        Atomics.wait(this.word, HOLDER, holder, this.left(deadline));
      }
    } finally {
      this.notWaiting();
    }
  }

  private async acquireAsync(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    if (this.shouldGiveWay()) await this.waitAsync(LAST, this.me, this.yieldMs);
    try {
      for (;;) {
        // Another write of this thread may have taken the lock while this one waited.
        if (this.depth > 0) {
          this.depth++;
          return;
        }
        const holder = Atomics.compareExchange(this.word, HOLDER, 0, this.me);
        if (holder === 0) return this.took();
        Atomics.store(this.word, WAITER, this.me);
        await this.waitAsync(HOLDER, holder, this.left(deadline));
      }
    } finally {
      this.notWaiting();
    }
  }

  /** Whether this thread took the lock last and another one waits for it now. */
  private shouldGiveWay(): boolean {
    const waiter = Atomics.load(this.word, WAITER);
    return waiter !== 0 && waiter !== this.me && Atomics.load(this.word, LAST) === this.me;
  }

  private took(): void {
    this.depth = 1;
    // A thread giving way sleeps on LAST until someone else has the lock.
    if (Atomics.exchange(this.word, LAST, this.me) !== this.me) Atomics.notify(this.word, LAST);
  }

  /** Taken, or given up on (timed out): either way no thread should give way to this one any longer. */
  private notWaiting(): void {
    Atomics.compareExchange(this.word, WAITER, this.me, 0);
  }

  private waitAsync(slot: number, value: number, ms: number): Promise<unknown> {
    const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.word, slot, value, ms);
    return waited.async ? waited.value : Promise.resolve(waited.value);
  }

  /** Milliseconds left before `deadline`; past it, the same error SQLite's own busy timeout raises, so callers answer it the same way (503). */
  private left(deadline: number): number {
    const left = deadline - Date.now();
    if (left <= 0) throw new Database.SqliteError('the store is busy: another thread held it too long', 'SQLITE_BUSY');
    return left;
  }

  private release(): void {
    if (--this.depth > 0) return;
    Atomics.store(this.word, HOLDER, 0);
    Atomics.notify(this.word, HOLDER);
  }
}
