import type { Logger } from 'pino';
import type { SharedWindows } from '../../emitters/types';
import type { Metrics } from '../../observability/metrics';
import type { AcceptResult, ClaimOptions, DeliveryCounts, DeliveryFilter, DeliveryPage, DropFilter } from '../types';
import type { DueDelivery, ListFilter, PruneResult, RoutedEvent, TargetRecord } from '../types';
import type { AttemptRecord, EventDetail, EventListPage, EventQuery, TargetHealth } from '../types';
import type { CollapseOptions, HeldPart, HeldPartQuery, ReleaseResult } from './held-parts';
import type { RequestLogLimits, RequestPage, RequestQuery, RequestRecord } from './request-log';

export interface StoreOptions {
  metrics?: Metrics;
  logger?: Logger;
  /** Epoch milliseconds; injectable so dedup windows, leases and retention can be tested. */
  clock?: () => number;
  /**
   * Who holds a lease (PostgreSQL): unique per running process. Defaults to host, pid and a
   * random suffix, so a restarted process never mistakes its predecessor's leases for its own.
   */
  owner?: string;
  /**
   * The operator CLI opens the store for a moment: it neither waits on an unreachable database in
   * the background nor listens for notifications.
   */
  oneShot?: boolean;
  /** One event per push of a tag (held-parts.ts); absent = every event delivered as it comes. */
  collapse?: CollapseOptions;
  /** How much of the request log `prune` keeps (`requests.*`); absent = the config's defaults. */
  requestLog?: RequestLogLimits;
  /**
   * SQLite: the memory of the lock that keeps this process's threads writing one at a time
   * (sqlite-writer-lock.ts), given to each thread's store when delivery runs in a worker.
   */
  writerLock?: SharedArrayBuffer;
  /**
   * This store takes no webhooks, it only delivers (the delivery worker's): on PostgreSQL its
   * commits do not wait for the WAL flush (postgres-connection.ts says why); on SQLite its writes
   * wait for the writer lock without blocking its event loop (sqlite-writer-lock.ts). SQLite's
   * outcome writes skip their own fsync on any store (sqlite-outcomes.ts).
   */
  deliveryOnly?: boolean;
}

/** What the engine can say about itself for the metrics, as data; absent = the engine has none. */
export interface StoreStats {
  /** Connections in the pool (PostgreSQL). */
  pool?: { total: number; idle: number; waiting: number };
  /** Rows this process has claimed and is attempting under a lease (PostgreSQL). */
  leasesHeld?: number;
}

/**
 * The durable side of delivery, whatever the engine, cut by who uses it: the intake sees a
 * `Ledger`, the lanes and dispatcher a `Queue`, the console and the CLI an `Inspection`, the
 * metrics `stats()`. One object implements them all (`DeliveryStore`); each client is handed
 * only its role, so none depends on what it does not use, nor on which engine it is.
 */

/** The intake's role: storing what senders post, and saying when it cannot. */
export interface Ledger {
  /** Where the store lives, for logs: a file, or the database host and schema (never a password). */
  readonly location: string;
  /** Which engine, as the commit's span names it (`db.system.name`). */
  readonly engine: 'sqlite' | 'postgres';

  /** undefined while new events are taken; otherwise why not (draining, database unreachable). */
  notReadyReason(): string | undefined;

  /**
   * Stores events for delivery. Resolves only once they are committed; rejects with
   * UnavailableError when they cannot be (closed, draining, over maxPending, storage failing) so
   * the sender retries. A `(source, id)` seen within the dedup window, earlier in the same call, in
   * another call of the same commit group, or by another replica, stores nothing and comes back
   * `duplicate: true`. The events of one call are stored all together or not at all.
   */
  accept(routed: RoutedEvent[]): Promise<AcceptResult[]>;

  /** Refuses new events from now on (SIGTERM); resolves once the group already taken in is committed. */
  drain(): Promise<void>;
}

/**
 * The lanes' and dispatcher's role. A row handed out by `claim` is leased to this process until
 * a mark settles it or `release` gives it back; no other caller (another replica included) is
 * handed it meanwhile. A lease that is never settled (the process died) lapses, and the row is
 * handed out again: at-least-once.
 */
export interface Queue {
  /**
   * Leases up to `limit` pending rows of `emitter` due at `nowMs` (any due time with
   * `anyDueTime`), soonest first, in one query. A row leased by another process is never handed
   * out before that lease lapses.
   */
  claim(emitter: string, nowMs: number, limit: number, options?: ClaimOptions): Promise<DueDelivery[]>;
  /** When the soonest pending row of `emitter` not leased by this process is due; undefined if none. */
  nextDueAt(emitter: string): Promise<number | undefined>;

  /**
   * The marks change pending rows only (a row the operator dropped mid-attempt stays gone) and
   * settle the lease. They resolve whether a row was changed.
   */
  markDelivered(id: number, attempts: number): Promise<boolean>;
  markRetry(id: number, attempts: number, nextAttemptAtMs: number, error: string): Promise<boolean>;
  markDead(id: number, attempts: number, error: string): Promise<boolean>;
  /** Gives a claimed row back unchanged (its outcome could not be recorded). */
  release(id: number): Promise<void>;

  /**
   * The target of `emitter` is back: every pending row of it waiting on a backoff timer becomes
   * due at `nowMs`, so the backlog drains at once. Resolves how many rows were brought forward.
   */
  resumeTarget(emitter: string, nowMs: number): Promise<number>;
  /** Records a target's circuit for the operator CLI (another process); bookkeeping, never refused for space. */
  saveTarget(target: TargetRecord): Promise<void>;

  /**
   * Notes one attempt at a claimed row, for the console's history. Attempts of a row go when the
   * row does (pruned or dropped); a row dropped mid-attempt may leave one that nothing shows.
   */
  recordAttempt(attempt: AttemptRecord): Promise<void>;

  /**
   * Delivers (or drops, as `collapse.orphans` says) the held parts whose window has passed,
   * whichever process held them. Each part is settled once across every process on the store.
   */
  releaseHeldParts(nowMs: number): Promise<ReleaseResult>;

  /** Calls `listener` with emitter names when another process stored or re-queued rows for them. */
  onWake(listener: (emitters: readonly string[]) => void): void;

  /**
   * Forgets delivered rows past their retention, events left with no row, and dedup keys past the
   * window. Dedup keys outlive their events on purpose: a sender retrying an already delivered
   * event must still get `duplicate`.
   */
  prune(nowMs?: number): Promise<PruneResult>;
  /** Pending and dead rows per emitter, across every process sharing the store. */
  counts(): Promise<DeliveryCounts[]>;
}

/** The console's and the operator CLI's role: reading the store, and the operator's actions on rows. */
export interface Inspection {
  /** Deliveries with their event, newest first; `truncated` says when `limit` cut rows. */
  list(filter?: ListFilter): Promise<DeliveryPage>;
  /** Events with their delivery state per emitter, newest first, one keyset page at a time. */
  listEvents(query?: EventQuery): Promise<EventListPage>;
  /** One event by its sequence number, with its deliveries and every attempt recorded. */
  eventDetail(seq: number): Promise<EventDetail | undefined>;
  /** Pending rows among `ids` become due at `nowMs` (the console's "retry now"); resolves how many. */
  retryNow(ids: number[], nowMs: number): Promise<number>;
  /**
   * Each delivered row among `ids` gets a new pending row of the same event and emitter, due at
   * `nowMs` and carrying `note` (the console's "send again"); the delivered row stays as it was.
   */
  sendAgain(ids: number[], note: string, nowMs: number): Promise<number>;
  /** The dead rows of the events a console filter selects, for a bulk replay. */
  deadIds(query: EventQuery): Promise<number[]>;
  /**
   * Per emitter with rows: counts, deliveries within `recentMs` of `nowMs`, the last failed
   * attempt, and its circuit where the store keeps one.
   */
  targetHealth(nowMs: number, recentMs: number): Promise<TargetHealth[]>;
  /** Pending and dead rows per emitter, across every process sharing the store. */
  counts(): Promise<DeliveryCounts[]>;
  /** Every target's recorded circuit, by emitter name. */
  targets(): Promise<TargetRecord[]>;
  /** Held parts, newest first: all, those in one state, or those one push absorbed. */
  listHeldParts(query?: HeldPartQuery): Promise<HeldPart[]>;
  /** The request log (request-log.ts), newest first, one keyset page at a time. */
  listRequests(query?: RequestQuery): Promise<RequestPage>;

  /** Puts dead-lettered rows back in the queue as if new (attempts 0, due now). */
  replay(filter?: DeliveryFilter): Promise<number>;
  /** Deletes undelivered rows for good (their event goes at the next prune). */
  drop(filter?: DropFilter): Promise<number>;
}

/**
 * The edge's request log writer: diagnostics, not acknowledgements, so written in batches without
 * an fsync of their own, and on SQLite without waiting long for the file (sqlite-request-log.ts).
 * The rows past retention go with the store's `prune`, on the dispatcher's schedule.
 */
export interface RequestWriter {
  recordRequests(records: readonly RequestRecord[]): Promise<void>;
}

/** What `openStore` returns: every role, plus what the wiring itself needs. */
export interface DeliveryStore extends Ledger, Queue, Inspection, RequestWriter {
  /** Windows shared by every process on the store; absent where only one process delivers. */
  readonly sharedWindows?: SharedWindows;
  /** The engine's figures for the metrics. */
  stats(): StoreStats;
  /** Commits any group still waiting, then closes. Safe to call twice. */
  close(): Promise<void>;
}
