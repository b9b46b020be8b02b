import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WriterLock } from './sqlite-writer-lock';
import { OutcomeWriter } from './sqlite-outcomes';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { AcceptResult, ClaimOptions, DeliveryCounts, DeliveryFilter, DeliveryPage } from '../types';
import type { DeliverySettings, DropFilter, DueDelivery, ListFilter, PruneResult } from '../types';
import type { AttemptRecord, RoutedEvent, TargetRecord } from '../types';
import { CommitGroup, type AcceptCall, type CallOutcome } from './commit-group';
import { SQLITE_DIALECT, sqliteRunner, type Sql } from './dialect';
import { InspectableStore, StoreInspection } from './inspection';
import { countDeliveries, dropDeliveries, listDeliveries, listTargets, pruneCutoffs } from './operator';
import { replayDeliveries, resumeTarget, saveTarget } from './operator';
import { migrateSqlite, SQLITE_SCHEMA_VERSION } from './sqlite-schema';
import { StoreSpace } from './sqlite-space';
import { VolumeHealth } from './sqlite-volume';
import { SqliteHeldParts } from './sqlite-held-parts';
import type { ReleaseResult } from './held-parts';
import type { RequestLogLimits } from './request-log';
import { sqliteRequestLogWrite } from './sqlite-request-log';
import { pruneSqlite } from './sqlite-prune';
import { SqliteAccept } from './sqlite-accept';
import { InProcessClaims } from './claims';
import { settleRow, type Mark } from './marks';
import type { DeliveryStore, StoreOptions, StoreStats } from './types';

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
  private readonly claims: InProcessClaims;
  protected readonly inspection: StoreInspection;
  private readonly sql: Sql;
  private readonly acceptor: SqliteAccept;
  private readonly commitCalls: Database.Transaction<(calls: AcceptCall[]) => CallOutcome[]>;
  private readonly space: StoreSpace;
  private readonly volume: VolumeHealth;
  private readonly heldParts: SqliteHeldParts;
  private readonly requestLog?: RequestLogLimits;
  private readonly outcomes: OutcomeWriter;
  /** Shared with the other threads of this process that write the file (sqlite-writer-lock.ts). */
  private readonly writerLock?: WriterLock;
  /** The delivery worker's store: it waits for the writer lock without blocking its event loop. */
  private readonly deliveryOnly: boolean;

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
    this.requestLog = options.requestLog;
    if (options.writerLock) this.writerLock = new WriterLock(options.writerLock, BUSY_TIMEOUT_MS);
    this.deliveryOnly = options.deliveryOnly === true;

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      // Still durable (rollback journal + FULL), but the CLI will block the gateway while it reads.
      this.logger?.warn({ file, mode }, 'store file system does not support WAL; using the rollback journal');
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrateSqlite(db, file);
    this.sql = { dialect: SQLITE_DIALECT, run: sqliteRunner(db) };
    this.inspection = new StoreInspection(this.sql, sqliteRequestLogWrite(db));
    this.space = new StoreSpace(db, settings.dir, settings.maxStoreBytes, this.logger);
    // Rewriting the schema version changes nothing, yet is a real write through the WAL.
    this.volume = new VolumeHealth(file, () => db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`), this.logger);

    this.claims = new InProcessClaims(db);
    this.outcomes = new OutcomeWriter(db, (work) => this.write(work));
    this.heldParts = new SqliteHeldParts(db, options.collapse, options.metrics);
    this.acceptor = new SqliteAccept(db, settings, this.space, this.heldParts);
    this.commitCalls = db.transaction((calls: AcceptCall[]) => this.applyGroup(calls));
    this.group = new CommitGroup(
      // IMMEDIATE: the group reads (dedup) before it writes, and the delivery worker's connection
      // writes too; a deferred transaction would fail with SQLITE_BUSY when upgraded to a writer.
      (calls) => this.write(() => this.commitCalls.immediate(calls)),
      (err) =>
        isUnavailable(err) ? new UnavailableError(`the delivery store cannot write (${err.code})`, 30) : (err as Error),
      options.metrics,
      this.logger,
    );
    // A store reopened full must say so before the first event is refused.
    if (!options.oneShot && !this.space.admits(this.space.usedBytes(), 0))
      this.space.reclaim(() => this.pruneNow(this.clock(), true));
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

  /** Runs inside the group's transaction (sqlite-accept.ts); a store full for space starts making room. */
  private applyGroup(calls: AcceptCall[]): CallOutcome[] {
    const { outcomes, refusedForSpace } = this.acceptor.applyGroup(calls, this.clock());
    if (refusedForSpace) this.space.reclaim(() => this.pruneNow(this.clock(), true));
    return outcomes;
  }

  claim(emitter: string, nowMs: number, limit: number, options: ClaimOptions = {}): Promise<DueDelivery[]> {
    // While the volume refuses writes, no outcome could be recorded: a row delivered now would
    // stay pending and be delivered again and again. Deliveries wait for the volume instead.
    if (this.volume.reason !== undefined) return Promise.resolve([]);
    return this.run(() => this.claims.claim(emitter, nowMs, limit, options.anyDueTime));
  }

  nextDueAt(emitter: string): Promise<number | undefined> {
    return this.run(() => this.claims.nextDueAt(emitter));
  }

  markDelivered(id: number, attempts: number): Promise<boolean> {
    return this.settle(id, { state: 'delivered', attempts, at: this.clock() });
  }

  markRetry(id: number, attempts: number, nextAttemptAt: number, error: string): Promise<boolean> {
    return this.settle(id, { state: 'pending', attempts, at: this.clock(), nextAttemptAt, error });
  }

  markDead(id: number, attempts: number, error: string): Promise<boolean> {
    return this.settle(id, { state: 'dead', attempts, at: this.clock(), error });
  }

  release(id: number): Promise<void> {
    this.claims.release(id);
    return Promise.resolve();
  }

  resumeTarget(emitter: string, nowMs: number): Promise<number> {
    return this.write(() => resumeTarget(this.sql, emitter, nowMs));
  }

  saveTarget(t: TargetRecord): Promise<void> {
    return this.write(() => saveTarget(this.sql, t));
  }

  targets(): Promise<TargetRecord[]> {
    return this.run(() => listTargets(this.sql));
  }

  list(filter: ListFilter = {}): Promise<DeliveryPage> {
    return this.run(() => listDeliveries(this.sql, filter));
  }

  /** A running gateway picks replayed rows up on its next poll: only it reads the file for delivery. */
  replay(filter: DeliveryFilter = {}): Promise<number> {
    return this.write(async () => (await replayDeliveries(this.sql, filter, this.clock(), '')).length);
  }

  drop(filter: DropFilter = {}): Promise<number> {
    return this.write(() => dropDeliveries(this.sql, filter));
  }

  counts(): Promise<DeliveryCounts[]> {
    return this.group.closed ? Promise.resolve([]) : this.run(() => countDeliveries(this.sql));
  }

  prune(nowMs: number = this.clock()): Promise<PruneResult> {
    return this.write(() => this.pruneNow(nowMs));
  }

  /**
   * Under the retention settings; `reclaim` (the store is full for space) forgets every delivered
   * row and the whole request log instead: room for undelivered events comes before history.
   */
  private pruneNow(nowMs: number, reclaim = false): PruneResult {
    const cutoffs = pruneCutoffs(this.settings, this.requestLog, nowMs);
    if (reclaim) Object.assign(cutoffs, { deliveredBefore: nowMs + 1, requestsBefore: nowMs + 1 });
    return pruneSqlite(this.db, cutoffs);
  }

  releaseHeldParts(nowMs: number): Promise<ReleaseResult> {
    return this.write(() => this.heldParts.release.immediate(nowMs));
  }

  /** No pool and no leases: claims are this process's own, in memory. */
  stats(): StoreStats {
    return {};
  }

  /** Only this process delivers from the file, so there is never anyone else's news to wake on. */
  onWake(): void {}

  async drain(): Promise<void> {
    await this.group.drain();
    await this.outcomes.flush();
  }

  async close(): Promise<void> {
    if (this.group.closed) return;
    await this.group.close();
    await this.outcomes.flush();
    this.space.close();
    this.volume.close();
    this.db.close();
  }

  /** Marks join this turn's outcome transaction (sqlite-outcomes.ts); the claim ends once it is written. */
  private settle(id: number, mark: Mark): Promise<boolean> {
    return this.outcomes.add(() => settleRow(this.sql, id, mark)).finally(() => this.claims.release(id));
  }

  /** Like a mark: in this turn's outcome transaction, without an fsync of its own. */
  override recordAttempt(attempt: AttemptRecord): Promise<void> {
    return this.outcomes.add(() => this.inspection.recordAttempt(attempt));
  }

  /**
   * The engine is synchronous; callers get promises like the other engine's, errors included.
   * Every write goes through here, so a volume that fills up or fails is noticed on the spot.
   */
  private run<T>(work: () => T | Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = Promise.resolve(work());
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return result.catch((err: unknown) => {
      this.volume.failed(err, this.group.closed);
      throw err instanceof Error ? err : new Error(String(err));
    });
  }

  /** A write: one that gets through shows the volume takes writes again. */
  protected override write<T>(work: () => T | Promise<T>): Promise<T> {
    const lock = this.writerLock;
    const locked = lock && (this.deliveryOnly ? () => lock.holdAsync(work) : () => lock.hold(work));
    return this.run(locked || work).then((result) => {
      this.volume.succeeded();
      return result;
    });
  }
}
