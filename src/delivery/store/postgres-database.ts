import type pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresSettings } from '../../config/types';
import { createPool, describeLocation, isConnectionFailure, Redactor } from './postgres-connection';
import type { Sql } from './postgres-operator';

/**
 * The pool, and what the replica knows of the database's health. Every round trip goes through
 * `withClient`, so health follows what actually happened: a connection-class failure marks the
 * database unavailable, the next success marks it back.
 */
export class PostgresDatabase implements Sql {
  readonly location: string;
  readonly redact: Redactor;
  private readonly pool: pg.Pool;
  /** Why the database is unusable right now; cleared by the next query that succeeds. */
  private lastFailure?: string;

  constructor(
    settings: PostgresSettings,
    readonly schema: string,
    private readonly logger?: Logger,
  ) {
    this.location = describeLocation(settings);
    this.redact = new Redactor(settings.url);
    this.pool = createPool(settings, 'registry-gateway');
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
    try {
      const result = await work(client);
      client.release();
      if (this.lastFailure !== undefined) {
        this.logger?.info({ store: this.location }, 'the database is back');
        this.lastFailure = undefined;
      }
      return result;
    } catch (err) {
      // A connection that failed is not handed to the next caller.
      client.release(isConnectionFailure(err) ? (err as Error) : undefined);
      this.noteFailure(err);
      throw err;
    }
  }

  end(): Promise<void> {
    return this.pool.end().catch(() => undefined);
  }

  private noteFailure(err: unknown): void {
    if (!isConnectionFailure(err)) return;
    const safe = this.redact.error(err);
    if (this.lastFailure === undefined)
      this.logger?.error({ err: safe, store: this.location }, 'the database is unavailable');
    this.lastFailure = safe.message;
  }
}
