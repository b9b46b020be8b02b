import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { AcceptResult, ClaimOptions, DeliveryCounts, DeliveryFilter, DeliveryPage } from '../types';
import type { DeliverySettings, DropFilter, DueDelivery, ListFilter, PruneResult } from '../types';
import type { AttemptRecord, RoutedEvent, TargetRecord } from '../types';
import { CommitGroup, tooManyPending, truncateError, type AcceptCall, type CallOutcome } from './commit-group';
import { countsByEmitter } from './rows';
import { dropDeliveries, listDeliveries, replayDeliveries, saveTargetRow, targetRows } from './sqlite-operator';
import { InspectableStore, SQLITE_DIALECT, sqliteRunner, StoreInspection } from './inspection';
import { migrateSqlite, SQLITE_SCHEMA_VERSION } from './sqlite-schema';
import { StoreSpace } from './sqlite-space';
import { VolumeHealth } from './sqlite-volume';
import { SqliteHeldParts } from './sqlite-held-parts';
import type { ReleaseResult } from './held-parts';
import { dueDelivery, prepareStatements, type Statements } from './sqlite-statements';
import type { DeliveryStore, StoreOptions } from './types';

export const STORE_FILE = 'registry-gateway.db';

/**
 * SQLite result codes that mean "the store cannot take writes right now" rather than "the code is
 * wrong": the sender should retry later (503), and nothing may be acknowledged.
 */
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM)/;

/** How long a write waits for another process (the operator CLI) to release the file. */
const BUSY_TIMEOUT_MS = 5000;

function isUnavailable(err: unknown): err is Error & { code: string } {
  return err instanceof Database.SqliteError && UNAVAILABLE_CODES.test(err.code);
}

/**
 * The embedded engine: one SQLite file, owned by one gateway process and shared with the operator
 * CLI. Durability: WAL with `synchronous=FULL` fsyncs the log on every commit, so an accept that
 * resolved survives kill -9 and power loss. Leases live in memory: only this process delivers
 * from the file, and after a crash every row that was in flight is simply pending again.
 */
export class SqliteStore extends InspectableStore implements DeliveryStore {
  readonly engine = 'sqlite' as const;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly settings: DeliverySettings;
  private readonly clock: () => number;
  private readonly logger?: Logger;
  private readonly group: CommitGroup;
  private readonly claimed = new Set<number>();
  protected readonly inspection: StoreInspection;
  private readonly statements: Statements;
  private readonly commitCalls: (calls: AcceptCall[]) => CallOutcome[];
  private readonly space: StoreSpace;
  private readonly volume: VolumeHealth;
  private readonly heldParts: SqliteHeldParts;

  static open(settings: DeliverySettings, options: StoreOptions = {}): SqliteStore {
    mkdirSync(settings.dir, { recursive: true });
    const file = path.join(settings.dir, STORE_FILE);
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      return new SqliteStore(file, db, settings, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(file: string, db: Database.Database, settings: DeliverySettings, options: StoreOptions) {
    super();
    this.file = file;
    this.db = db;
    this.settings = settings;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      // Still durable (rollback journal + FULL), but the CLI will block the gateway while it reads.
      this.logger?.warn({ file, mode }, 'store file system does not support WAL; using the rollback journal');
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrateSqlite(db, file);
    this.inspection = new StoreInspection(SQLITE_DIALECT, sqliteRunner(db));
    this.space = new StoreSpace(db, settings.dir, settings.maxStoreBytes, this.logger);
    // Rewriting the schema version changes nothing, yet is a real write through the WAL.
    this.volume = new VolumeHealth(file, () => db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`), this.logger);

    this.statements = prepareStatements(db);
    this.heldParts = new SqliteHeldParts(db, options.collapse, options.metrics);
    this.commitCalls = db.transaction((calls: AcceptCall[]) => this.applyGroup(calls));
    this.group = new CommitGroup(
      (calls) => this.write(() => this.commitCalls(calls)),
      (err) =>
        isUnavailable(err) ? new UnavailableError(`the delivery store cannot write (${err.code})`, 30) : (err as Error),
      options.metrics,
      this.logger,
    );
    // A store reopened full must say so before the first event is refused.
    if (!options.oneShot && !this.space.admits(this.space.usedBytes(), 0))
      this.space.reclaim(() => this.pruneNow(this.clock() + 1, this.clock()));
  }

  get location(): string {
    return this.file;
  }

  notReadyReason(): string | undefined {
    if (this.group.closed) return 'the delivery store is closed';
    if (!this.group.accepting) return 'the delivery store is draining';
    return this.volume.reason ?? this.space.fullReason;
  }

  accept(routed: RoutedEvent[]): Promise<AcceptResult[]> {
    return this.group.add(routed);
  }

  /** Runs inside the group's transaction. A call refused for maxPending stores nothing. */
  private applyGroup(calls: AcceptCall[]): CallOutcome[] {
    const s = this.statements;
    const now = this.clock();
    const dedup = this.settings.dedupWindowSeconds > 0;
    const windowStart = now - this.settings.dedupWindowSeconds * 1000;
    const limit = this.settings.maxPending;
    let pending = limit > 0 ? s.countPending.get()! : 0;
    let used = this.space.usedBytes();
    let refusedForSpace = false;

    const outcomes = calls.map((call): CallOutcome => {
      const seenInCall = new Set<string>();
      const fresh = call.map(({ event }) => {
        if (!dedup) return true;
        const key = JSON.stringify([event.source, event.id]);
        if (seenInCall.has(key)) return false;
        seenInCall.add(key);
        const seen = s.dedupSeenAt.get(event.source, event.id);
        return !seen || seen.seen_at <= windowStart;
      });
      const newRows = call.reduce((n, e, i) => n + (fresh[i] ? e.emitters.length : 0), 0);
      // Duplicates are still answered when full: their sender needs the 202 to stop retrying.
      if (limit > 0 && newRows > 0 && pending >= limit) return tooManyPending(pending, limit);
      if (newRows > 0) {
        const adding = StoreSpace.estimate(call.filter((_, i) => fresh[i]));
        if (!this.space.admits(used, adding)) {
          refusedForSpace = true;
          return this.space.refusal();
        }
        used += adding;
      }
      pending += newRows;
      return call.map((prepared, i) => {
        if (!fresh[i]) return { event: prepared.event, duplicate: true };
        if (dedup) s.dedupRemember.run(prepared.event.source, prepared.event.id, now);
        if (!this.heldParts.accept(prepared, now)) return { event: prepared.event, duplicate: false };
        const { event, emitters, body, trace } = prepared;
        const seq = s.insertEvent.run(
          event.source,
          event.id,
          event.provider,
          event.type,
          event.registry,
          event.repo ?? null,
          event.tag ?? null,
          body,
          now,
          trace?.traceparent ?? null,
          trace?.tracestate ?? null,
        ).lastInsertRowid;
        for (const emitter of emitters) s.insertDelivery.run(seq, emitter, now, now, now);
        return { event, duplicate: false };
      });
    });
    if (refusedForSpace) this.space.reclaim(() => this.pruneNow(this.clock() + 1, this.clock()));
    return outcomes;
  }

  claim(emitter: string, nowMs: number, limit: number, options: ClaimOptions = {}): Promise<DueDelivery[]> {
    // While the volume refuses writes, no outcome could be recorded: a row delivered now would
    // stay pending and be delivered again and again. Deliveries wait for the volume instead.
    if (this.volume.reason !== undefined) return Promise.resolve([]);
    return this.run(() => {
      const claimed = JSON.stringify([...this.claimed]);
      const rows = options.anyDueTime
        ? this.statements.dueAnyTime.all(emitter, claimed, limit)
        : this.statements.due.all(emitter, nowMs, claimed, limit);
      return rows.map((row) => {
        this.claimed.add(row.id);
        return dueDelivery(row);
      });
    });
  }

  nextDueAt(emitter: string): Promise<number | undefined> {
    return this.run(() => this.statements.nextDueAt.get(emitter, JSON.stringify([...this.claimed])));
  }

  markDelivered(id: number, attempts: number): Promise<boolean> {
    const now = this.clock();
    return this.settle(id, () => this.statements.markDelivered.run(attempts, now, now, id).changes > 0);
  }

  markRetry(id: number, attempts: number, nextAttemptAtMs: number, error: string): Promise<boolean> {
    return this.settle(
      id,
      () =>
        this.statements.markRetry.run(attempts, nextAttemptAtMs, truncateError(error), this.clock(), id).changes > 0,
    );
  }

  markDead(id: number, attempts: number, error: string): Promise<boolean> {
    return this.settle(
      id,
      () => this.statements.markDead.run(attempts, truncateError(error), this.clock(), id).changes > 0,
    );
  }

  release(id: number): Promise<void> {
    this.claimed.delete(id);
    return Promise.resolve();
  }

  resumeTarget(emitter: string, nowMs: number): Promise<number> {
    return this.write(() => this.statements.resume.run(nowMs, emitter, nowMs).changes);
  }

  saveTarget(t: TargetRecord): Promise<void> {
    return this.write(() => saveTargetRow(this.statements, t));
  }

  targets(): Promise<TargetRecord[]> {
    return this.run(() => targetRows(this.statements));
  }

  list(filter: ListFilter = {}): Promise<DeliveryPage> {
    return this.run(() => listDeliveries(this.db, filter));
  }

  replay(filter: DeliveryFilter = {}): Promise<number> {
    return this.write(() => replayDeliveries(this.db, filter, this.clock()));
  }

  drop(filter: DropFilter = {}): Promise<number> {
    return this.write(() => dropDeliveries(this.db, filter));
  }

  counts(): Promise<DeliveryCounts[]> {
    return this.run(() => (this.group.closed ? [] : countsByEmitter(this.statements.counts.all())));
  }

  prune(nowMs: number = this.clock()): Promise<PruneResult> {
    return this.write(() => this.pruneNow(nowMs - this.settings.deliveredRetentionSeconds * 1000, nowMs));
  }

  private pruneNow(deliveredBefore: number, nowMs: number): PruneResult {
    const s = this.statements;
    const result = this.db.transaction(() => {
      const deliveries = s.pruneDelivered.run(deliveredBefore).changes;
      s.pruneAttempts.run();
      return {
        deliveries,
        events: s.pruneEvents.run().changes,
        dedupKeys: s.pruneDedup.run(nowMs - this.settings.dedupWindowSeconds * 1000).changes,
      };
    })();
    // Without waiting for the autocheckpoint, so that the WAL is cut back to journal_size_limit.
    this.db.pragma('wal_checkpoint(PASSIVE)');
    return result;
  }

  releaseHeldParts(nowMs: number): Promise<ReleaseResult> {
    return this.write(() => this.heldParts.release(nowMs));
  }

  /** Only this process delivers from the file, so there is never anyone else's news to wake on. */
  onWake(): void {}

  drain(): Promise<void> {
    return this.group.drain();
  }

  async close(): Promise<void> {
    if (this.group.closed) return;
    await this.group.close();
    this.space.close();
    this.volume.close();
    this.db.close();
  }

  /**
   * Marks are written without their own fsync (synchronous=NORMAL for that one statement): the
   * next accepted group's fsync makes them durable with it, since the WAL is one file written in
   * order. Power lost before that forgets a mark, so the delivery is made again, which at least
   * once allows; an fsync per mark on the event loop capped delivery at a few hundred a second.
   */
  private settle(id: number, mark: () => boolean): Promise<boolean> {
    return this.write(() => {
      try {
        return this.withoutFsync(mark);
      } finally {
        this.claimed.delete(id);
      }
    });
  }

  /** Like a mark, written without an fsync of its own: the next accepted group's makes it durable. */
  override recordAttempt(attempt: AttemptRecord): Promise<void> {
    return this.withoutFsync(() => this.inspection.recordAttempt(attempt));
  }

  /** Runs synchronous writes with synchronous=NORMAL; the statements run before this returns. */
  private withoutFsync<T>(work: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return work();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /**
   * The engine is synchronous; callers get promises like the other engine's, errors included.
   * Every write goes through here, so a volume that fills up or fails is noticed on the spot.
   */
  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (err) {
      this.volume.failed(err, this.group.closed);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A write: one that gets through shows the volume takes writes again. */
  private write<T>(work: () => T): Promise<T> {
    return this.run(work).then((result) => {
      this.volume.succeeded();
      return result;
    });
  }
}
