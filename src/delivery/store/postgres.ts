import type pg from 'pg';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { AcceptResult, ClaimOptions, DeliveryCounts, DeliveryFilter, DeliveryPage } from '../types';
import type { DeliverySettings, DropFilter, DueDelivery, ListFilter, PruneResult } from '../types';
import type { AttemptRecord, RoutedEvent, TargetRecord } from '../types';
import { CommitGroup, PENDING_COUNT_TTL_MS, type AcceptCall, type CallOutcome } from './commit-group';
import { commitAccepts, countPending } from './postgres-accept';
import { releaseParts } from './postgres-assembly';
import type { ReleaseResult } from './held-parts';
import { nextDueUnleased } from './claims';
import { defaultOwner, PostgresLeases } from './postgres-leases';
import { ident, inTransaction, isConnectionFailure } from './postgres-connection';
import { postgresDialect, type Sql } from './dialect';
import { InspectableStore, StoreInspection } from './inspection';
import { PostgresDatabase } from './postgres-database';
import { PostgresOutcomes } from './postgres-outcomes';
import { notifyReplicas, WakeListener } from './postgres-listener';
import { PostgresWindows } from './postgres-windows';
import { countDeliveries, dropDeliveries, listDeliveries, listTargets, replayDeliveries } from './operator';
import { pruneCutoffs, resumeTarget, saveTarget } from './operator';
import { pruneShared } from './postgres-prune';
import { postgresRequestLogWrite } from './postgres-request-log';
import { migrate } from './postgres-schema';
import type { DeliveryStore, StoreOptions, StoreStats } from './types';

/** How often an unreachable database is tried again, and a reachable one checked. */
const HEALTH_INTERVAL_MS = 1000;
/** One group commits while the next gathers (bench: 1 in flight 770-780 req/s, 2: 536-642, 3: 498-559). */
const COMMITS_IN_FLIGHT = 1;
/**
 * The engine for several replicas: every replica shares one PostgreSQL schema. Dedup is the
 * `(source, id)` primary key; deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease that
 * this replica renews while its attempts run, so a replica that dies loses only its leases, which
 * lapse and are taken by the others. An accepted event is committed (WAL flushed) before any 2xx.
 */
export class PostgresStore extends InspectableStore implements DeliveryStore {
  readonly engine = 'postgres' as const;
  readonly location: string;
  /** Renamed per process so leases of a predecessor with the same pid are never mistaken for ours. */
  readonly owner: string;
  private readonly db: PostgresDatabase;
  protected readonly inspection: StoreInspection;
  private readonly sql: Sql;
  readonly sharedWindows: PostgresWindows;
  private readonly schema: string;
  private readonly channel: string;
  private readonly settings: DeliverySettings;
  private readonly clock: () => number;
  private readonly logger?: Logger;
  private readonly group: CommitGroup;
  private readonly listener?: WakeListener;
  private readonly wakeListeners: ((emitters: readonly string[]) => void)[] = [];
  private readonly leases: PostgresLeases;
  private readonly outcomes: PostgresOutcomes;
  private readonly options: StoreOptions;
  private migrated = false;
  private checking = false;
  private pending = { count: 0, at: -Infinity };
  private healthTimer?: NodeJS.Timeout;

  /**
   * Migrates the schema and returns a store. A database that cannot be reached yet does not stop
   * a gateway (it answers 503 and keeps trying, so a database restart never turns into a crash
   * loop); the one-shot CLI is told at once instead.
   */
  static async open(settings: DeliverySettings, options: StoreOptions = {}): Promise<PostgresStore> {
    if (!settings.postgres.url) {
      throw new Error(
        'delivery.postgres.url is empty: set it, or DATABASE_URL (the chart sets that from delivery.postgres.urlSecret)',
      );
    }
    const store = new PostgresStore(settings, options);
    try {
      await store.ensureMigrated();
    } catch (err) {
      if (options.oneShot || !isConnectionFailure(err)) {
        await store.db.end();
        throw store.db.redact.error(err);
      }
    }
    store.startBackground();
    return store;
  }

  /** Wakes every replica's dispatcher for `emitters`, after the change committed (postgres-listener.ts). */
  private readonly wake = (emitters: readonly string[]) => notifyReplicas(this.db, this.channel, emitters, this.logger);

  private constructor(settings: DeliverySettings, options: StoreOptions) {
    super();
    this.settings = settings;
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.owner = options.owner ?? defaultOwner();
    this.schema = ident(settings.postgres.schema);
    this.channel = `registry_gateway_${settings.postgres.schema}`;
    this.db = new PostgresDatabase(settings.postgres, this.schema, this.logger, !options.deliveryOnly);
    this.location = this.db.location;
    this.sharedWindows = new PostgresWindows(this.db);
    this.sql = { dialect: postgresDialect(this.schema), run: (text, params) => this.db.query(text, params) };
    this.inspection = new StoreInspection(this.sql, postgresRequestLogWrite(this.db));
    this.outcomes = new PostgresOutcomes(this.sql);
    this.leases = new PostgresLeases(this.db, this.outcomes, {
      owner: this.owner,
      leaseMs: settings.postgres.leaseSeconds * 1000,
      clock: this.clock,
      metrics: options.metrics,
      logger: this.logger,
    });
    this.group = new CommitGroup(
      (calls) => this.db.withClient(async (client) => this.commit(client, calls)),
      (err) => this.db.refusal(err),
      options.metrics,
      this.logger,
      COMMITS_IN_FLIGHT,
    );
    if (!options.oneShot) {
      this.listener = new WakeListener(
        settings.postgres.url,
        this.channel,
        (emitters) => this.wakeListeners.forEach((l) => l(emitters)),
        this.db.redact,
        this.logger,
      );
    }
  }

  /** The pool and this replica's leases, for the metrics. */
  stats(): StoreStats {
    return { pool: this.db.poolStats, leasesHeld: this.leases.size };
  }

  notReadyReason(): string | undefined {
    if (this.group.closed) return 'the delivery store is closed';
    if (!this.group.accepting) return 'the delivery store is draining';
    const failure = this.db.failure;
    if (!this.migrated) return `the database is not reachable yet${failure ? `: ${failure}` : ''}`;
    if (failure) return `the database is unavailable: ${failure}`;
    return undefined;
  }

  accept(routed: RoutedEvent[]): Promise<AcceptResult[]> {
    const reason = this.group.accepting ? this.notReadyReason() : undefined;
    // Fail fast while the health check says the database is gone: a sender waiting out a
    // connection timeout per request would pile up requests for nothing.
    if (reason) return Promise.reject(new UnavailableError(reason, 5));
    return this.db.answerInTime(this.group.add(routed));
  }

  private async commit(client: pg.PoolClient, calls: AcceptCall[]): Promise<CallOutcome[]> {
    if (this.settings.maxPending > 0 && this.clock() - this.pending.at > PENDING_COUNT_TTL_MS)
      this.pending = { count: await countPending(client, this.schema), at: this.clock() };
    const { outcomes, woken } = await inTransaction(client, () =>
      commitAccepts(client, calls, {
        schema: this.schema,
        now: this.clock(),
        dedupWindowMs: this.settings.dedupWindowSeconds * 1000,
        maxPending: this.settings.maxPending,
        pending: this.pending.count,
        collapse: this.options.collapse,
        metrics: this.options.metrics,
      }),
    );
    for (const outcome of outcomes) {
      if (Array.isArray(outcome)) this.pending.count += outcome.filter((r) => !r.duplicate).length;
    }
    // After the commit, so a woken dispatcher always finds the rows; not awaited by the senders.
    void this.wake(woken);
    return outcomes;
  }

  claim(emitter: string, nowMs: number, limit: number, options: ClaimOptions = {}): Promise<DueDelivery[]> {
    return this.leases.claim(emitter, nowMs, limit, options);
  }

  nextDueAt(emitter: string): Promise<number | undefined> {
    return nextDueUnleased(this.db, emitter, this.owner);
  }

  markDelivered(id: number, attempts: number): Promise<boolean> {
    return this.leases.settle(id, { state: 'delivered', attempts, at: this.clock() });
  }

  markRetry(id: number, attempts: number, nextAttemptAt: number, error: string): Promise<boolean> {
    return this.leases.settle(id, { state: 'pending', attempts, at: this.clock(), nextAttemptAt, error });
  }

  markDead(id: number, attempts: number, error: string): Promise<boolean> {
    return this.leases.settle(id, { state: 'dead', attempts, at: this.clock(), error });
  }

  release(id: number): Promise<void> {
    return this.leases.release(id);
  }

  /** Like the marks, a turn's attempt rows go in one statement (postgres-outcomes.ts). */
  override recordAttempt(attempt: AttemptRecord): Promise<void> {
    return this.outcomes.record(attempt);
  }

  /** The target is back: every replica's dispatcher for it is woken, after the rows are committed. */
  async resumeTarget(emitter: string, nowMs: number): Promise<number> {
    const resumed = await resumeTarget(this.sql, emitter, nowMs);
    if (resumed > 0) await this.wake([emitter]);
    return resumed;
  }

  saveTarget(target: TargetRecord): Promise<void> {
    return saveTarget(this.sql, target);
  }

  targets(): Promise<TargetRecord[]> {
    return listTargets(this.sql);
  }

  list(filter: ListFilter = {}): Promise<DeliveryPage> {
    return listDeliveries(this.sql, filter);
  }

  /** Re-queues dead rows, leased by no one, and then wakes every replica's dispatcher for them. */
  async replay(filter: DeliveryFilter = {}): Promise<number> {
    const emitters = await replayDeliveries(this.sql, filter, this.clock(), ', lease_owner = NULL, lease_until = NULL');
    await this.wake(emitters);
    return emitters.length;
  }

  drop(filter: DropFilter = {}): Promise<number> {
    return dropDeliveries(this.sql, filter);
  }

  async counts(): Promise<DeliveryCounts[]> {
    return this.group.closed ? [] : countDeliveries(this.sql);
  }

  async releaseHeldParts(nowMs: number): Promise<ReleaseResult> {
    const result = await this.db.withClient((client) =>
      inTransaction(client, () =>
        releaseParts(client, this.schema, nowMs, this.options.collapse, this.options.metrics),
      ),
    );
    await this.wake(result.emitters);
    return result;
  }

  prune(nowMs: number = this.clock()): Promise<PruneResult> {
    const cutoffs = pruneCutoffs(this.settings, this.options.requestLog, nowMs);
    return this.db.withClient((client) => pruneShared(client, this.sql.dialect, this.schema, cutoffs));
  }

  /** The first one starts LISTEN: a store no one delivers from (the listener thread's, beside a worker) holds no connection for it. */
  onWake(listener: (emitters: readonly string[]) => void): void {
    if (this.wakeListeners.length === 0 && !this.group.closed) this.listener?.start();
    this.wakeListeners.push(listener);
  }

  drain(): Promise<void> {
    return this.group.drain();
  }

  async close(): Promise<void> {
    if (this.group.closed) return;
    await this.group.close();
    clearInterval(this.healthTimer);
    this.leases.stopRenewing();
    await this.listener?.close();
    await this.db.end();
  }

  private async ensureMigrated(): Promise<void> {
    await this.db.withClient((client) => migrate(client, this.settings.postgres.schema));
    this.migrated = true;
  }

  private startBackground(): void {
    if (this.options.oneShot) return;
    this.healthTimer = setInterval(() => void this.checkHealth(), HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
    this.leases.startRenewing();
  }

  private async checkHealth(): Promise<void> {
    // One check at a time: against a database that does not answer, checks would pile up.
    if (this.group.closed || this.checking) return;
    this.checking = true;
    try {
      if (!this.migrated) {
        await this.ensureMigrated();
        this.logger?.info({ store: this.location }, 'the database is reachable; schema ready');
      } else if (this.db.failure) {
        await this.db.checkWritable();
      }
    } catch {
      // The database's health tracking has recorded why.
    } finally {
      this.checking = false;
    }
  }
}
