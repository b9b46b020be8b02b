import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { UnavailableError } from '../model/errors';
import type { RegistryEvent } from '../model/event';
import type { Metrics } from '../observability/metrics';
import type {
  AcceptResult,
  DeliveryCounts,
  DeliveryFilter,
  DeliveryRecord,
  DeliverySettings,
  DeliveryState,
  DropFilter,
  DueDelivery,
  ListFilter,
  PruneResult,
  RoutedEvent,
} from './types';

export const STORE_FILE = 'registry-gateway.db';

/** Bumped whenever the tables change; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  source      TEXT NOT NULL,
  id          TEXT NOT NULL,
  provider    TEXT NOT NULL,
  type        TEXT NOT NULL,
  registry    TEXT NOT NULL,
  repo        TEXT,
  body        TEXT NOT NULL,
  accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_key ON events (id, source);

CREATE TABLE IF NOT EXISTS deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  event_seq       INTEGER NOT NULL REFERENCES events (seq),
  emitter         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
-- The dispatcher's question: what is due for this emitter now, soonest first.
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (emitter, state, next_attempt_at);
-- Counts for the gauges and the maxPending check, without walking delivered history.
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state, emitter);
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_seq);
CREATE INDEX IF NOT EXISTS deliveries_delivered_at ON deliveries (delivered_at) WHERE state = 'delivered';

CREATE TABLE IF NOT EXISTS dedup_keys (
  source  TEXT NOT NULL,
  id      TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_keys_by_age ON dedup_keys (seen_at);
`;

/**
 * SQLite result codes that mean "the store cannot take writes right now" rather than "the code is
 * wrong": the sender should retry later (503), and nothing may be acknowledged.
 */
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM)/;

/** Longest `last_error` kept: enough to diagnose, bounded so a chatty target cannot bloat rows. */
const MAX_ERROR_LENGTH = 2000;

/** How long a write waits for another process (the operator CLI) to release the file. */
const BUSY_TIMEOUT_MS = 5000;

export interface DeliveryStoreOptions {
  metrics?: Metrics;
  logger?: Logger;
  /** Epoch milliseconds; injectable so dedup windows and retention can be tested. */
  clock?: () => number;
}

interface PreparedEvent {
  event: RegistryEvent;
  emitters: string[];
  body: string;
}

interface AcceptRequest {
  events: PreparedEvent[];
  resolve(results: AcceptResult[]): void;
  reject(error: Error): void;
}

type StoreState = 'open' | 'draining' | 'closed';

interface DueRow {
  id: number;
  emitter: string;
  attempts: number;
  accepted_at: number;
  body: string;
}

interface ListRow {
  id: number;
  event_id: string;
  source: string;
  provider: string;
  type: string;
  registry: string;
  repo: string | null;
  emitter: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  accepted_at: number;
  created_at: number;
  updated_at: number;
  next_attempt_at: number;
  delivered_at: number | null;
}

function truncateError(error: string): string {
  return error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH - 1)}…` : error;
}

function isUnavailable(err: unknown): err is Error & { code: string } {
  return err instanceof Database.SqliteError && UNAVAILABLE_CODES.test(err.code);
}

/** WHERE clauses for the operator filters, over `deliveries d JOIN events e`. */
function filterClauses(filter: DeliveryFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.emitter !== undefined) {
    where.push('d.emitter = ?');
    params.push(filter.emitter);
  }
  if (filter.eventId !== undefined) {
    where.push('e.id = ?');
    params.push(filter.eventId);
  }
  if (filter.source !== undefined) {
    where.push('e.source = ?');
    params.push(filter.source);
  }
  if (filter.ids !== undefined) {
    where.push('d.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(filter.ids));
  }
  return { where, params };
}

/**
 * The durable side of delivery: every accepted event and one row per (event, emitter), in one
 * SQLite file shared with the operator CLI.
 *
 * Durability: WAL with `synchronous=FULL` fsyncs the log on every commit, so an `accept()` that
 * resolved survives kill -9 and power loss. To keep that fsync from capping throughput, accepts
 * are grouped: every call made before the event loop next reaches its check phase joins one
 * transaction, and all of their promises resolve after that single commit.
 */
export class DeliveryStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly settings: DeliverySettings;
  private readonly clock: () => number;
  private readonly metrics?: Metrics;
  private readonly logger?: Logger;
  private state: StoreState = 'open';
  private batch: AcceptRequest[] = [];
  private flushScheduled = false;
  private readonly statements: ReturnType<DeliveryStore['prepareStatements']>;
  private readonly commitBatch: (requests: AcceptRequest[]) => (AcceptResult[] | Error)[];

  static open(settings: DeliverySettings, options: DeliveryStoreOptions = {}): DeliveryStore {
    mkdirSync(settings.dir, { recursive: true });
    const file = path.join(settings.dir, STORE_FILE);
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      return new DeliveryStore(file, db, settings, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(
    file: string,
    db: Database.Database,
    settings: DeliverySettings,
    options: DeliveryStoreOptions,
  ) {
    this.file = file;
    this.db = db;
    this.settings = settings;
    this.clock = options.clock ?? Date.now;
    this.metrics = options.metrics;
    this.logger = options.logger;

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      // Still durable (rollback journal + FULL), but the CLI will block the gateway while it reads.
      this.logger?.warn({ file, mode }, 'store file system does not support WAL; using the rollback journal');
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    this.migrate();

    this.statements = this.prepareStatements();
    this.commitBatch = db.transaction((requests: AcceptRequest[]) => this.applyBatch(requests));

    if (this.metrics) this.metrics.deliveryCounts = this.countsForMetrics;
  }

  private readonly countsForMetrics = (): DeliveryCounts[] => (this.state === 'closed' ? [] : this.counts());

  private migrate(): void {
    // IMMEDIATE: the gateway and the CLI may open a fresh file at the same moment.
    this.db
      .transaction(() => {
        const version = this.db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new Error(
            `${this.file} was written by a newer registry-gateway (schema ${version}, this one knows ${SCHEMA_VERSION})`,
          );
        }
        this.db.exec(SCHEMA);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  private prepareStatements() {
    const db = this.db;
    return {
      dedupSeenAt: db.prepare<[string, string], { seen_at: number }>(
        'SELECT seen_at FROM dedup_keys WHERE source = ? AND id = ?',
      ),
      dedupRemember: db.prepare<[string, string, number]>(
        `INSERT INTO dedup_keys (source, id, seen_at) VALUES (?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET seen_at = excluded.seen_at`,
      ),
      insertEvent: db.prepare<[string, string, string, string, string, string | null, string, number]>(
        `INSERT INTO events (source, id, provider, type, registry, repo, body, accepted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertDelivery: db.prepare<[number | bigint, string, number, number, number]>(
        `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
      ),
      countPending: db
        .prepare<[], number>(`SELECT count(*) FROM deliveries WHERE state = 'pending'`)
        .pluck(),
      due: db.prepare<[string, number, string, number], DueRow>(
        `SELECT d.id, d.emitter, d.attempts, e.accepted_at, e.body
           FROM deliveries d JOIN events e ON e.seq = d.event_seq
          WHERE d.emitter = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
            AND d.id NOT IN (SELECT value FROM json_each(?))
          ORDER BY d.next_attempt_at, d.id
          LIMIT ?`,
      ),
      nextDueAt: db
        .prepare<[string, string], number | null>(
          `SELECT min(next_attempt_at) FROM deliveries
            WHERE emitter = ? AND state = 'pending' AND id NOT IN (SELECT value FROM json_each(?))`,
        )
        .pluck(),
      markDelivered: db.prepare<[number, number, number, number]>(
        `UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL,
                delivered_at = ?, updated_at = ?
          WHERE id = ? AND state = 'pending'`,
      ),
      markRetry: db.prepare<[number, number, string, number, number]>(
        `UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
          WHERE id = ? AND state = 'pending'`,
      ),
      markDead: db.prepare<[number, string, number, number]>(
        `UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?, updated_at = ?
          WHERE id = ? AND state = 'pending'`,
      ),
      counts: db.prepare<[], { emitter: string; state: DeliveryState; n: number }>(
        `SELECT emitter, state, count(*) AS n FROM deliveries
          WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
      ),
      pruneDelivered: db.prepare<[number]>(
        `DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?`,
      ),
      pruneEvents: db.prepare(
        `DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)`,
      ),
      pruneDedup: db.prepare<[number]>(`DELETE FROM dedup_keys WHERE seen_at <= ?`),
    };
  }

  /** Whether new events are taken (false once draining or closed): for `/readyz`. */
  get accepting(): boolean {
    return this.state === 'open';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Stores events for delivery. Resolves only once they are committed to disk; rejects with
   * UnavailableError when they cannot be (closed, draining, over maxPending, disk full) so the
   * sender retries. A `(source, id)` seen within the dedup window, earlier in this call or in
   * another call of the same commit group, stores nothing and comes back `duplicate: true`.
   * The events of one call are stored all together or not at all.
   */
  accept(routed: RoutedEvent[]): Promise<AcceptResult[]> {
    if (this.state !== 'open') {
      return Promise.reject(
        new UnavailableError(this.state === 'closed' ? 'the delivery store is closed' : 'the gateway is shutting down'),
      );
    }
    let events: PreparedEvent[];
    try {
      // Serialised here, outside the shared transaction, so one odd event fails only its own call.
      events = routed.map(({ event, emitters }) => {
        if (typeof event?.id !== 'string' || typeof event.source !== 'string') {
          throw new TypeError('an event to store needs a string id and source');
        }
        return { event, emitters: [...new Set(emitters)], body: JSON.stringify(event) };
      });
    } catch (err) {
      return Promise.reject(err);
    }
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.batch.push({ events, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: it lets every request already read from the sockets in
        // this loop turn join the group before the (fsync-bound) commit blocks the thread.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const requests = this.batch;
    this.batch = [];
    if (requests.length === 0) return;

    const started = process.hrtime.bigint();
    let outcomes: (AcceptResult[] | Error)[];
    try {
      outcomes = this.commitBatch(requests);
    } catch (err) {
      const refusal = isUnavailable(err)
        ? new UnavailableError(`the delivery store cannot write (${err.code})`, 30)
        : (err as Error);
      this.logger?.error({ err, requests: requests.length }, 'store commit failed; nothing in it was acknowledged');
      for (const request of requests) request.reject(refusal);
      return;
    }
    this.metrics?.commitDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics?.commitBatchSize.observe(requests.length);
    outcomes.forEach((outcome, i) => {
      if (outcome instanceof Error) requests[i].reject(outcome);
      else requests[i].resolve(outcome);
    });
  }

  /** Runs inside the group's transaction. A request refused for maxPending stores nothing. */
  private applyBatch(requests: AcceptRequest[]): (AcceptResult[] | Error)[] {
    const s = this.statements;
    const now = this.clock();
    const dedup = this.settings.dedupWindowSeconds > 0;
    const windowStart = now - this.settings.dedupWindowSeconds * 1000;
    const limit = this.settings.maxPending;
    let pending = limit > 0 ? s.countPending.get()! : 0;

    return requests.map((request) => {
      const seenInRequest = new Set<string>();
      const fresh = request.events.map(({ event }) => {
        if (!dedup) return true;
        const key = JSON.stringify([event.source, event.id]);
        if (seenInRequest.has(key)) return false;
        seenInRequest.add(key);
        const seen = s.dedupSeenAt.get(event.source, event.id);
        return !seen || seen.seen_at <= windowStart;
      });
      const newRows = request.events.reduce((n, e, i) => n + (fresh[i] ? e.emitters.length : 0), 0);
      // Duplicates are still answered when full: their sender needs the 202 to stop retrying.
      if (limit > 0 && newRows > 0 && pending >= limit) {
        return new UnavailableError(`too many undelivered events (${pending} pending, limit ${limit})`, 30);
      }
      pending += newRows;
      return request.events.map(({ event, emitters, body }, i) => {
        if (!fresh[i]) return { event, duplicate: true };
        if (dedup) s.dedupRemember.run(event.source, event.id, now);
        const seq = s.insertEvent.run(
          event.source,
          event.id,
          event.provider,
          event.type,
          event.registry,
          event.repo ?? null,
          body,
          now,
        ).lastInsertRowid;
        for (const emitter of emitters) s.insertDelivery.run(seq, emitter, now, now, now);
        return { event, duplicate: false };
      });
    });
  }

  /**
   * Pending rows of `emitter` due at `nowMs`, soonest first, skipping `excludeIds` (the attempts
   * the caller already has in flight). After a crash every row that was in flight is simply still
   * pending, so it comes back here: delivery is at-least-once.
   */
  due(emitter: string, nowMs: number, limit: number, excludeIds: Iterable<number> = []): DueDelivery[] {
    const rows = this.statements.due.all(emitter, nowMs, JSON.stringify([...excludeIds]), limit);
    return rows.map((row) => ({
      id: row.id,
      emitter: row.emitter,
      attempts: row.attempts,
      acceptedAt: row.accepted_at,
      event: JSON.parse(row.body) as RegistryEvent,
    }));
  }

  /** When the soonest pending row of `emitter` (outside `excludeIds`) is due; undefined if none. */
  nextDueAt(emitter: string, excludeIds: Iterable<number> = []): number | undefined {
    return this.statements.nextDueAt.get(emitter, JSON.stringify([...excludeIds])) ?? undefined;
  }

  /**
   * The mark methods change pending rows only: a row the operator dropped while its attempt was
   * in flight stays gone. They return whether a row was changed.
   */
  markDelivered(id: number, attempts: number): boolean {
    const now = this.clock();
    return this.statements.markDelivered.run(attempts, now, now, id).changes > 0;
  }

  markRetry(id: number, attempts: number, nextAttemptAtMs: number, error: string): boolean {
    return this.statements.markRetry.run(attempts, nextAttemptAtMs, truncateError(error), this.clock(), id).changes > 0;
  }

  markDead(id: number, attempts: number, error: string): boolean {
    return this.statements.markDead.run(attempts, truncateError(error), this.clock(), id).changes > 0;
  }

  /** Deliveries with their event, oldest first. */
  list(filter: ListFilter = {}): DeliveryRecord[] {
    const { where, params } = filterClauses(filter);
    if (filter.state !== undefined) {
      where.push('d.state = ?');
      params.push(filter.state);
    }
    const rows = this.db
      .prepare<unknown[], ListRow>(
        `SELECT d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
                d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
                d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at
           FROM deliveries d JOIN events e ON e.seq = d.event_seq
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY d.id
          LIMIT ?`,
      )
      .all(...params, filter.limit ?? 100);
    return rows.map((row) => {
      const record: DeliveryRecord = {
        id: row.id,
        eventId: row.event_id,
        source: row.source,
        provider: row.provider,
        type: row.type,
        registry: row.registry,
        emitter: row.emitter,
        state: row.state,
        attempts: row.attempts,
        acceptedAt: row.accepted_at,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        nextAttemptAt: row.next_attempt_at,
      };
      if (row.repo !== null) record.repo = row.repo;
      if (row.last_error !== null) record.lastError = row.last_error;
      if (row.delivered_at !== null) record.deliveredAt = row.delivered_at;
      return record;
    });
  }

  /**
   * Puts dead-lettered rows back in the queue as if new (attempts 0, due now). A running gateway
   * picks them up on its next poll. Returns how many rows were re-queued.
   */
  replay(filter: DeliveryFilter = {}): number {
    const { where, params } = filterClauses(filter);
    const now = this.clock();
    return this.db
      .prepare(
        `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
          WHERE state = 'dead' AND id IN (
            SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''})`,
      )
      .run(now, now, ...params).changes;
  }

  /** Deletes undelivered rows for good (the event goes at the next prune). Returns the count. */
  drop(filter: DropFilter = {}): number {
    const { where, params } = filterClauses(filter);
    const states = filter.state ? [filter.state] : ['pending', 'dead'];
    return this.db
      .prepare(
        `DELETE FROM deliveries
          WHERE state IN (SELECT value FROM json_each(?)) AND id IN (
            SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''})`,
      )
      .run(JSON.stringify(states), ...params).changes;
  }

  /** Pending and dead rows per emitter (emitters with neither are absent). */
  counts(): DeliveryCounts[] {
    const byEmitter = new Map<string, DeliveryCounts>();
    for (const row of this.statements.counts.all()) {
      let entry = byEmitter.get(row.emitter);
      if (!entry) {
        entry = { emitter: row.emitter, pending: 0, dead: 0 };
        byEmitter.set(row.emitter, entry);
      }
      if (row.state === 'pending') entry.pending = row.n;
      else entry.dead = row.n;
    }
    return [...byEmitter.values()].sort((a, b) => a.emitter.localeCompare(b.emitter));
  }

  /**
   * Forgets what is no longer needed: delivered rows past their retention, events left with no
   * delivery row, dedup keys past the window. Dedup keys outlive their events on purpose: a
   * sender retrying an already delivered event must still get `duplicate`.
   */
  prune(nowMs: number = this.clock()): PruneResult {
    const s = this.statements;
    return this.db.transaction(() => ({
      deliveries: s.pruneDelivered.run(nowMs - this.settings.deliveredRetentionSeconds * 1000).changes,
      events: s.pruneEvents.run().changes,
      dedupKeys: s.pruneDedup.run(nowMs - this.settings.dedupWindowSeconds * 1000).changes,
    }))();
  }

  /**
   * Refuses new events from now on (SIGTERM) while the dispatcher finishes its attempts. Resolves
   * once the group already taken in has been committed.
   */
  async drain(): Promise<void> {
    if (this.state === 'open') this.state = 'draining';
    this.flushNow();
  }

  /** Commits any group still waiting, then closes the file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'draining';
    this.flushNow();
    this.state = 'closed';
    if (this.metrics?.deliveryCounts === this.countsForMetrics) this.metrics.deliveryCounts = undefined;
    this.db.close();
  }

  private flushNow(): void {
    // The scheduled setImmediate will find an empty batch and do nothing.
    if (this.batch.length > 0) this.flush();
  }
}
