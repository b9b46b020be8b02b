import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { UnavailableError } from '../../model/errors';
import type { RegistryEvent } from '../../model/event';
import type { AcceptResult, DeliveryCounts, DeliveryFilter, DeliveryPage, DeliverySettings } from '../types';
import type { DropFilter, DueDelivery, ListFilter, PruneResult, RoutedEvent } from '../types';
import { CommitGroup, tooManyPending, truncateError, type AcceptCall, type CallOutcome } from './commit-group';
import { countsByEmitter, type CountRow } from './rows';
import { dropDeliveries, listDeliveries, replayDeliveries } from './sqlite-operator';
import { migrateSqlite } from './sqlite-schema';
import { InspectableStore, SQLITE_DIALECT, sqliteRunner, StoreInspection } from './inspection';
import type { DeliveryStore, StoreOptions } from './types';

export const STORE_FILE = 'registry-gateway.db';

/**
 * SQLite result codes that mean "the store cannot take writes right now" rather than "the code is
 * wrong": the sender should retry later (503), and nothing may be acknowledged.
 */
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM)/;

/** How long a write waits for another process (the operator CLI) to release the file. */
const BUSY_TIMEOUT_MS = 5000;

interface DueRow {
  id: number;
  emitter: string;
  attempts: number;
  accepted_at: number;
  body: string;
}

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
  private readonly statements: ReturnType<SqliteStore['prepareStatements']>;
  private readonly commitCalls: (calls: AcceptCall[]) => CallOutcome[];
  protected readonly inspection: StoreInspection;

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

    this.statements = this.prepareStatements();
    this.commitCalls = db.transaction((calls: AcceptCall[]) => this.applyGroup(calls));
    this.group = new CommitGroup(
      (calls) => Promise.resolve(this.commitCalls(calls)),
      (err) =>
        isUnavailable(err) ? new UnavailableError(`the delivery store cannot write (${err.code})`, 30) : (err as Error),
      options.metrics,
      this.logger,
    );
  }

  get location(): string {
    return this.file;
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
      insertEvent: db.prepare<[string, string, string, string, string, string | null, string | null, string, number]>(
        `INSERT INTO events (source, id, provider, type, registry, repo, tag, body, accepted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertDelivery: db.prepare<[number | bigint, string, number, number, number]>(
        `INSERT INTO deliveries (event_seq, emitter, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, 'pending', 0, ?, ?, ?)`,
      ),
      countPending: db.prepare<[], number>(`SELECT count(*) FROM deliveries WHERE state = 'pending'`).pluck(),
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
      counts: db.prepare<[], CountRow>(
        `SELECT emitter, state, count(*) AS n FROM deliveries
          WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
      ),
      pruneDelivered: db.prepare<[number]>(`DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?`),
      pruneEvents: db.prepare(
        `DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)`,
      ),
      pruneDedup: db.prepare<[number]>(`DELETE FROM dedup_keys WHERE seen_at <= ?`),
      pruneAttempts: db.prepare(
        `DELETE FROM attempts WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = attempts.delivery_id)`,
      ),
    };
  }

  notReadyReason(): string | undefined {
    if (this.group.closed) return 'the delivery store is closed';
    if (!this.group.accepting) return 'the delivery store is draining';
    return undefined;
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

    return calls.map((call) => {
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
      pending += newRows;
      return call.map(({ event, emitters, body }, i) => {
        if (!fresh[i]) return { event, duplicate: true };
        if (dedup) s.dedupRemember.run(event.source, event.id, now);
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
        ).lastInsertRowid;
        for (const emitter of emitters) s.insertDelivery.run(seq, emitter, now, now, now);
        return { event, duplicate: false };
      });
    });
  }

  claim(emitter: string, nowMs: number, limit: number): Promise<DueDelivery[]> {
    return this.run(() => {
      const rows = this.statements.due.all(emitter, nowMs, JSON.stringify([...this.claimed]), limit);
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
    });
  }

  nextDueAt(emitter: string): Promise<number | undefined> {
    return this.run(() => this.statements.nextDueAt.get(emitter, JSON.stringify([...this.claimed])) ?? undefined);
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

  list(filter: ListFilter = {}): Promise<DeliveryPage> {
    return this.run(() => listDeliveries(this.db, filter));
  }

  replay(filter: DeliveryFilter = {}): Promise<number> {
    return this.run(() => replayDeliveries(this.db, filter, this.clock()));
  }

  drop(filter: DropFilter = {}): Promise<number> {
    return this.run(() => dropDeliveries(this.db, filter));
  }

  counts(): Promise<DeliveryCounts[]> {
    return this.run(() => (this.group.closed ? [] : countsByEmitter(this.statements.counts.all())));
  }

  prune(nowMs: number = this.clock()): Promise<PruneResult> {
    const s = this.statements;
    return this.run(() =>
      this.db.transaction(() => {
        const deliveries = s.pruneDelivered.run(nowMs - this.settings.deliveredRetentionSeconds * 1000).changes;
        s.pruneAttempts.run();
        return {
          deliveries,
          events: s.pruneEvents.run().changes,
          dedupKeys: s.pruneDedup.run(nowMs - this.settings.dedupWindowSeconds * 1000).changes,
        };
      })(),
    );
  }

  /** Only this process delivers from the file, so there is never anyone else's news to wake on. */
  onWake(): void {}

  drain(): Promise<void> {
    return this.group.drain();
  }

  async close(): Promise<void> {
    if (this.group.closed) return;
    await this.group.close();
    this.db.close();
  }

  private settle(id: number, mark: () => boolean): Promise<boolean> {
    return this.run(() => {
      try {
        return mark();
      } finally {
        this.claimed.delete(id);
      }
    });
  }

  /** The engine is synchronous; callers get promises like the other engine's, errors included. */
  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
