import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { RegistryEvent } from '../../model/event';
import type {
  AcceptResult,
  DeliveryCounts,
  DeliveryFilter,
  DeliveryPage,
  DeliverySettings,
  DropFilter,
  DueDelivery,
  ListFilter,
  PruneResult,
  RoutedEvent,
} from '../types';
import { CommitGroup, truncateError } from './commit-group';
import { commitAccepts } from './postgres-accept';
import { createPool, describeLocation, ident, isConnectionFailure, isUnavailable, Redactor } from './postgres-connection';
import { WakeListener } from './postgres-listener';
import { migrate } from './postgres-schema';
import { countsByEmitter, recordFromRow, type CountRow, type RecordRow } from './rows';
import type { DeliveryStore, StoreOptions } from './types';

/** How often an unreachable database is tried again, and a reachable one checked. */
const HEALTH_INTERVAL_MS = 1000;
/** A pending count older than this is read again before deciding on maxPending. */
const PENDING_COUNT_TTL_MS = 1000;

interface ClaimRow {
  id: number;
  emitter: string;
  attempts: number;
  previous_owner: string | null;
  accepted_at: number;
  body: string;
}

function defaultOwner(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

/**
 * The engine for several replicas: every replica shares one PostgreSQL schema. Dedup is the
 * `(source, id)` primary key; deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease that
 * this replica renews while its attempts run, so a replica that dies loses only its leases, which
 * lapse and are taken by the others. An accepted event is committed (WAL flushed) before any 2xx.
 */
export class PostgresStore implements DeliveryStore {
  readonly engine = 'postgres' as const;
  readonly location: string;
  /** Renamed per process so leases of a predecessor with the same pid are never mistaken for ours. */
  readonly owner: string;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly channel: string;
  private readonly settings: DeliverySettings;
  private readonly clock: () => number;
  private readonly logger?: Logger;
  private readonly redact: Redactor;
  private readonly group: CommitGroup;
  private readonly listener?: WakeListener;
  private readonly wakeListeners: ((emitters: readonly string[]) => void)[] = [];
  private readonly claimed = new Set<number>();
  private readonly leaseMs: number;
  private readonly options: StoreOptions;
  private migrated = false;
  /** Why the database is unusable right now; cleared by the next query that succeeds. */
  private failure?: string;
  private pending = { count: 0, at: -Infinity };
  private healthTimer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;

  /**
   * Migrates the schema and returns a store. A database that cannot be reached yet does not stop
   * a gateway (it answers 503 and keeps trying, so a database restart never turns into a crash
   * loop); the one-shot CLI is told at once instead.
   */
  static async open(settings: DeliverySettings, options: StoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(settings, options);
    try {
      await store.ensureMigrated();
    } catch (err) {
      if (options.oneShot || !isConnectionFailure(err)) {
        await store.pool.end().catch(() => undefined);
        throw store.redact.error(err);
      }
    }
    store.startBackground();
    return store;
  }

  private constructor(settings: DeliverySettings, options: StoreOptions) {
    this.settings = settings;
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.owner = options.owner ?? defaultOwner();
    this.schema = ident(settings.postgres.schema);
    this.channel = `registry_gateway_${settings.postgres.schema}`;
    this.leaseMs = settings.postgres.leaseSeconds * 1000;
    this.location = describeLocation(settings.postgres);
    this.redact = new Redactor(settings.postgres.url);
    this.pool = createPool(settings.postgres, 'registry-gateway');
    // An idle pooled connection dropped by a database restart surfaces here; without a handler
    // Node would treat it as an uncaught error and exit.
    this.pool.on('error', (err) => this.noteFailure(err));
    this.group = new CommitGroup(
      (calls) => this.withClient(async (client) => this.commit(client, calls)),
      (err) => this.refusal(err),
      options.metrics,
      this.logger,
    );
    if (!options.oneShot) {
      this.listener = new WakeListener(
        settings.postgres.url,
        this.channel,
        (emitters) => this.wakeListeners.forEach((l) => l(emitters)),
        this.redact,
        this.logger,
      );
    }
  }

  /** Connections in the pool, for the metrics. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  get leasesHeld(): number {
    return this.claimed.size;
  }

  notReadyReason(): string | undefined {
    if (this.group.closed) return 'the delivery store is closed';
    if (!this.group.accepting) return 'the delivery store is draining';
    if (!this.migrated) return `the database is not reachable yet${this.failure ? `: ${this.failure}` : ''}`;
    if (this.failure) return `the database is unavailable: ${this.failure}`;
    return undefined;
  }

  accept(routed: RoutedEvent[]): Promise<AcceptResult[]> {
    const reason = this.group.accepting ? this.notReadyReason() : undefined;
    // Fail fast while the health check says the database is gone: a sender waiting out a
    // connection timeout per request would pile up requests for nothing.
    if (reason) return Promise.reject(new UnavailableError(reason, 5));
    return this.group.add(routed);
  }

  private async commit(client: pg.PoolClient, calls: Parameters<typeof commitAccepts>[1]) {
    if (this.settings.maxPending > 0 && this.clock() - this.pending.at > PENDING_COUNT_TTL_MS) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${this.schema}.deliveries WHERE state = 'pending'`,
      );
      this.pending = { count: rows[0].n, at: this.clock() };
    }
    await client.query('BEGIN');
    try {
      const outcomes = await commitAccepts(client, calls, {
        schema: this.schema,
        channel: this.channel,
        now: this.clock(),
        dedupWindowMs: this.settings.dedupWindowSeconds * 1000,
        maxPending: this.settings.maxPending,
        pending: this.pending.count,
      });
      await client.query('COMMIT');
      for (const outcome of outcomes) {
        if (Array.isArray(outcome)) this.pending.count += outcome.filter((r) => !r.duplicate).length;
      }
      return outcomes;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async claim(emitter: string, nowMs: number, limit: number): Promise<DueDelivery[]> {
    const s = this.schema;
    const rows = await this.query<ClaimRow>(
      `WITH due AS (
         SELECT id, lease_owner FROM ${s}.deliveries
          WHERE emitter = $1 AND state = 'pending' AND next_attempt_at <= $2
            AND (lease_until IS NULL OR lease_until <= $2)
          ORDER BY next_attempt_at, id
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       ), leased AS (
         UPDATE ${s}.deliveries d SET lease_owner = $4, lease_until = $5
           FROM due WHERE d.id = due.id
         RETURNING d.id, d.emitter, d.attempts, d.event_seq, due.lease_owner AS previous_owner
       )
       SELECT l.id, l.emitter, l.attempts, l.previous_owner, e.accepted_at, e.body
         FROM leased l JOIN ${s}.events e ON e.seq = l.event_seq
        ORDER BY l.id`,
      [emitter, nowMs, limit, this.owner, nowMs + this.leaseMs],
    );
    const takenOver = rows.filter((r) => r.previous_owner !== null && r.previous_owner !== this.owner).length;
    if (takenOver > 0) {
      this.options.metrics?.leaseTakeovers.inc(takenOver);
      this.logger?.warn({ emitter, deliveries: takenOver }, 'took over deliveries whose lease lapsed (a replica died or stalled)');
    }
    return rows.map((row) => {
      this.claimed.add(row.id);
      return {
        id: row.id,
        emitter: row.emitter,
        attempts: row.attempts,
        acceptedAt: row.accepted_at,
        event: JSON.parse(row.body) as RegistryEvent,
      };
    });
  }

  async nextDueAt(emitter: string): Promise<number | undefined> {
    const s = this.schema;
    // Unleased rows by their due time; rows leased elsewhere when their lease lapses.
    const rows = await this.query<{ at: number | null }>(
      `SELECT min(at) AS at FROM (
         (SELECT next_attempt_at AS at FROM ${s}.deliveries
           WHERE emitter = $1 AND state = 'pending' AND lease_owner IS NULL
           ORDER BY next_attempt_at LIMIT 1)
         UNION ALL
         (SELECT greatest(next_attempt_at, lease_until) FROM ${s}.deliveries
           WHERE emitter = $1 AND state = 'pending' AND lease_owner IS NOT NULL AND lease_owner <> $2)
       ) due`,
      [emitter, this.owner],
    );
    return rows[0]?.at ?? undefined;
  }

  markDelivered(id: number, attempts: number): Promise<boolean> {
    const now = this.clock();
    return this.settle(
      id,
      `UPDATE ${this.schema}.deliveries SET state = 'delivered', attempts = $3, last_error = NULL,
              delivered_at = $4, updated_at = $4, lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND state = 'pending' AND lease_owner = $2`,
      [attempts, now],
    );
  }

  markRetry(id: number, attempts: number, nextAttemptAtMs: number, error: string): Promise<boolean> {
    return this.settle(
      id,
      `UPDATE ${this.schema}.deliveries SET attempts = $3, next_attempt_at = $4, last_error = $5, updated_at = $6,
              lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND state = 'pending' AND lease_owner = $2`,
      [attempts, nextAttemptAtMs, truncateError(error), this.clock()],
    );
  }

  markDead(id: number, attempts: number, error: string): Promise<boolean> {
    return this.settle(
      id,
      `UPDATE ${this.schema}.deliveries SET state = 'dead', attempts = $3, last_error = $4, updated_at = $5,
              lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND state = 'pending' AND lease_owner = $2`,
      [attempts, truncateError(error), this.clock()],
    );
  }

  async release(id: number): Promise<void> {
    this.claimed.delete(id);
    await this.query(
      `UPDATE ${this.schema}.deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
      [id, this.owner],
    );
  }

  async list(filter: ListFilter = {}): Promise<DeliveryPage> {
    const { where, params } = this.filterClauses(filter);
    if (filter.state !== undefined) {
      params.push(filter.state);
      where.push(`d.state = $${params.length}`);
    }
    const limit = filter.limit ?? 100;
    params.push(limit + 1);
    const rows = await this.query<RecordRow>(
      `SELECT d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
              d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
              d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at
         FROM ${this.schema}.deliveries d JOIN ${this.schema}.events e ON e.seq = d.event_seq
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY d.id DESC
        LIMIT $${params.length}`,
      params,
    );
    return { rows: rows.slice(0, limit).map(recordFromRow), truncated: rows.length > limit };
  }

  async replay(filter: DeliveryFilter = {}): Promise<number> {
    const { where, params } = this.filterClauses(filter);
    params.push(this.clock());
    const rows = await this.query<{ emitter: string }>(
      `WITH replayed AS (
         UPDATE ${this.schema}.deliveries SET state = 'pending', attempts = 0, next_attempt_at = $${params.length},
                updated_at = $${params.length}, lease_owner = NULL, lease_until = NULL
          WHERE state = 'dead' AND id IN (
            SELECT d.id FROM ${this.schema}.deliveries d JOIN ${this.schema}.events e ON e.seq = d.event_seq
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''})
         RETURNING emitter
       ), woken AS (
         SELECT pg_notify($${params.length + 1}, string_agg(DISTINCT emitter, ',')) FROM replayed HAVING count(*) > 0
       )
       SELECT emitter FROM replayed, (SELECT count(*) FROM woken) w`,
      [...params, this.channel],
    );
    return rows.length;
  }

  async drop(filter: DropFilter = {}): Promise<number> {
    const { where, params } = this.filterClauses(filter);
    params.push(filter.state ? [filter.state] : ['pending', 'dead']);
    const rows = await this.query(
      `DELETE FROM ${this.schema}.deliveries
        WHERE state = ANY($${params.length}::text[]) AND id IN (
          SELECT d.id FROM ${this.schema}.deliveries d JOIN ${this.schema}.events e ON e.seq = d.event_seq
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''})
        RETURNING id`,
      params,
    );
    return rows.length;
  }

  async counts(): Promise<DeliveryCounts[]> {
    if (this.group.closed) return [];
    const rows = await this.query<CountRow>(
      `SELECT emitter, state, count(*)::int AS n FROM ${this.schema}.deliveries
        WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
    );
    return countsByEmitter(rows);
  }

  async prune(nowMs: number = this.clock()): Promise<PruneResult> {
    const s = this.schema;
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        // One replica prunes at a time; the others skip rather than queue behind it.
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [
          `registry-gateway prune ${this.settings.postgres.schema}`,
        ]);
        if (!rows[0].locked) {
          await client.query('COMMIT');
          return { deliveries: 0, events: 0, dedupKeys: 0 };
        }
        const deliveries = await client.query(`DELETE FROM ${s}.deliveries WHERE state = 'delivered' AND delivered_at < $1`, [
          nowMs - this.settings.deliveredRetentionSeconds * 1000,
        ]);
        const events = await client.query(
          `DELETE FROM ${s}.events e WHERE NOT EXISTS (SELECT 1 FROM ${s}.deliveries d WHERE d.event_seq = e.seq)`,
        );
        const dedupKeys = await client.query(`DELETE FROM ${s}.dedup_keys WHERE seen_at <= $1`, [
          nowMs - this.settings.dedupWindowSeconds * 1000,
        ]);
        await client.query(`DELETE FROM ${s}.windows WHERE ends_at < $1`, [nowMs]);
        await client.query('COMMIT');
        return { deliveries: deliveries.rowCount ?? 0, events: events.rowCount ?? 0, dedupKeys: dedupKeys.rowCount ?? 0 };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  onWake(listener: (emitters: readonly string[]) => void): void {
    this.wakeListeners.push(listener);
  }

  drain(): Promise<void> {
    return this.group.drain();
  }

  async close(): Promise<void> {
    if (this.group.closed) return;
    await this.group.close();
    clearInterval(this.healthTimer);
    clearInterval(this.renewTimer);
    await this.listener?.close();
    await this.pool.end().catch(() => undefined);
  }

  private async ensureMigrated(): Promise<void> {
    await this.withClient((client) => migrate(client, this.settings.postgres.schema));
    this.migrated = true;
  }

  private startBackground(): void {
    if (this.options.oneShot) return;
    this.listener?.start();
    this.healthTimer = setInterval(() => void this.checkHealth(), HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
    // Renewed well before it lapses, so a slow but live attempt keeps its row.
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(100, this.leaseMs / 3));
    this.renewTimer.unref();
  }

  private async checkHealth(): Promise<void> {
    if (this.group.closed) return;
    try {
      if (!this.migrated) {
        await this.ensureMigrated();
        this.logger?.info({ store: this.location }, 'the database is reachable; schema ready');
      } else if (this.failure) {
        await this.query('SELECT 1');
      }
    } catch {
      // noteFailure (through query/withClient) has recorded why.
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.claimed.size === 0 || this.group.closed) return;
    await this.query(
      `UPDATE ${this.schema}.deliveries SET lease_until = $1
        WHERE id = ANY($2::bigint[]) AND lease_owner = $3 AND state = 'pending'`,
      [this.clock() + this.leaseMs, [...this.claimed], this.owner],
    ).catch((err) => this.logger?.warn({ err: this.redact.error(err) }, 'cannot renew delivery leases; they may be taken over'));
  }

  private async settle(id: number, sql: string, params: unknown[]): Promise<boolean> {
    try {
      const rows = await this.query(`${sql} RETURNING id`, [id, this.owner, ...params]);
      return rows.length > 0;
    } finally {
      this.claimed.delete(id);
    }
  }

  private filterClauses(filter: DeliveryFilter): { where: string[]; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (n: number) => string, value: unknown) => {
      params.push(value);
      where.push(sql(params.length));
    };
    if (filter.emitter !== undefined) add((n) => `d.emitter = $${n}`, filter.emitter);
    if (filter.eventId !== undefined) add((n) => `e.id = $${n}`, filter.eventId);
    if (filter.source !== undefined) add((n) => `e.source = $${n}`, filter.source);
    if (filter.ids !== undefined) add((n) => `d.id = ANY($${n}::bigint[])`, filter.ids);
    return { where, params };
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>(sql, params)).rows);
  }

  /** Every database round trip goes through here, so health follows what actually happened. */
  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
    try {
      const result = await work(client);
      client.release();
      if (this.failure) {
        this.logger?.info({ store: this.location }, 'the database is back');
        this.failure = undefined;
      }
      return result;
    } catch (err) {
      // A connection that failed is not handed to the next caller.
      client.release(isConnectionFailure(err) ? (err as Error) : undefined);
      this.noteFailure(err);
      throw err;
    }
  }

  private noteFailure(err: unknown): void {
    if (!isConnectionFailure(err)) return;
    const message = this.redact.error(err).message;
    if (this.failure === undefined) this.logger?.error({ err: this.redact.error(err), store: this.location }, 'the database is unavailable');
    this.failure = message;
  }

  private refusal(err: unknown): Error {
    if (isUnavailable(err)) return new UnavailableError(`the delivery store cannot commit (${this.redact.error(err).message})`, 5);
    return this.redact.error(err);
  }
}
