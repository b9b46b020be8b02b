import type pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresSettings } from '../../config/types';
import { UnavailableError } from '../../model/errors';
import {
  createPool,
  describeLocation,
  isConnectionFailure,
  isReadOnly,
  isUnavailable,
  Redactor,
} from './postgres-connection';
import type { SchemaSql } from './postgres-connection';

/** How long a sender waits for its commit before it is told 503. */
const COMMIT_ANSWER_MS = 5000;

/**
 * The pool, and what the replica knows of the database's health. Every round trip goes through
 * `withClient`, so health follows what actually happened: a connection-class failure marks the
 * database unavailable, the next success marks it back.
 */
export class PostgresDatabase implements SchemaSql {
  readonly location: string;
  readonly redact: Redactor;
  private readonly pool: pg.Pool;
  /** Connections that already carry this database's error listener. */
  private readonly watched = new WeakSet<pg.PoolClient>();
  /** Why the database is unusable right now; cleared by the next query that succeeds. */
  private lastFailure?: string;
  /** The last failure was a server refusing writes, which a successful read does not disprove. */
  private readOnly = false;

  constructor(
    settings: PostgresSettings,
    readonly schema: string,
    private readonly logger?: Logger,
    durable = true,
  ) {
    this.location = describeLocation(settings);
    this.redact = new Redactor(settings.url);
    this.pool = createPool(settings, 'registry-gateway', durable);
    // An idle pooled connection dropped by a database restart surfaces here; without a handler
    // Node would treat it as an uncaught error and exit.
    this.pool.on('error', (err) => this.noteFailure(err));
  }

  get failure(): string | undefined {
    return this.lastFailure;
  }

  /** Connections in the pool, for the metrics. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>(text, params)).rows);
  }

  async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
    if (!this.watched.has(client)) {
      // The pool listens for errors only on idle connections and drops its listener on checkout;
      // a connection reset or terminated (57P01) while checked out emits 'error' on the client,
      // and an 'error' nobody listens to ends the process. The query in flight rejects as well,
      // so this listener only records the failure.
      client.on('error', (err) => this.noteFailure(err));
      this.watched.add(client);
    }
    try {
      const result = await work(client);
      client.release();
      // A read that succeeds says nothing about writes: only the health check clears read-only.
      if (!this.readOnly) this.recovered();
      return result;
    } catch (err) {
      // A connection that failed is not handed to the next caller, nor one to a server that has
      // become read-only (a demoted primary): the next connection may reach the new primary.
      client.release(isConnectionFailure(err) || isReadOnly(err) ? (err as Error) : undefined);
      this.noteFailure(err);
      throw err;
    }
  }

  end(): Promise<void> {
    return this.pool.end().catch(() => undefined);
  }

  /**
   * The sender's answer, or a 503 once it has waited COMMIT_ANSWER_MS. A database that swallows
   * packets (a dead node behind its Service) would otherwise hold every webhook until the query
   * timeout, longer than registries wait; a commit that lands after the 503 is only a duplicate
   * when the sender retries, which dedup answers. The commit goes on: its outcome is only no
   * longer awaited.
   */
  answerInTime<T>(commit: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const seconds = COMMIT_ANSWER_MS / 1000;
        this.noteUnresponsive(`no answer within ${seconds} s`);
        reject(new UnavailableError(`the delivery store did not commit within ${seconds} s`, 5));
      }, COMMIT_ANSWER_MS);
    });
    commit.catch(() => undefined);
    return Promise.race([commit, late]).finally(() => clearTimeout(timer));
  }

  /** What senders are told of a failed commit: a 503 for a database in trouble, never the password. */
  refusal(err: unknown): Error {
    if (isUnavailable(err))
      return new UnavailableError(`the delivery store cannot commit (${this.redact.error(err).message})`, 5);
    return this.redact.error(err);
  }

  /** A query has waited too long for an answer: the database is treated as gone until it answers. */
  noteUnresponsive(why: string): void {
    this.noteFailure(Object.assign(new Error(`the database does not answer (${why})`), { code: 'ETIMEDOUT' }));
  }

  /**
   * Whether the server takes writes, not merely answers: after a failover the address may still
   * lead to a standby. Answered quickly or not at all, since a check stuck on a dead connection
   * would hold it.
   */
  async checkWritable(): Promise<void> {
    const check = { text: 'SELECT pg_is_in_recovery() AS standby', query_timeout: 2000 } as pg.QueryConfig;
    const { rows } = await this.withClient((client) => client.query<{ standby: boolean }>(check));
    this.noteWritable(rows[0]?.standby === false);
  }

  private noteWritable(writable: boolean): void {
    if (writable) {
      this.readOnly = false;
      this.recovered();
      return;
    }
    const err = new Error('the database is read-only (a standby, or a failover under way)');
    this.noteFailure(Object.assign(err, { code: '25006' }));
  }

  private recovered(): void {
    if (this.lastFailure === undefined) return;
    this.logger?.info({ store: this.location }, 'the database is back');
    this.lastFailure = undefined;
  }

  private noteFailure(err: unknown): void {
    if (!isConnectionFailure(err) && !isReadOnly(err)) return;
    this.readOnly = isReadOnly(err);
    const safe = this.redact.error(err);
    if (this.lastFailure === undefined)
      this.logger?.error({ err: safe, store: this.location }, 'the database is unavailable');
    this.lastFailure = safe.message;
  }
}
