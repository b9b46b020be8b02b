import pg from 'pg';
import type { PostgresSettings } from '../../config/types';

/** int8 columns (ids, epoch milliseconds) stay far below 2^53: read them as numbers, not strings. */
const types = new pg.TypeOverrides();
types.setTypeParser(20, (value: string) => Number(value));

/** Failures that mean "the database is not there right now", as opposed to a refused query. */
const CONNECTION_MESSAGE = /connect|terminat|timeout|not queryable|closed|ended|socket/i;
/** SQLSTATE classes a sender should retry on: connection, resources, operator action, system. */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);
/** Single SQLSTATEs of the same kind: lost serialization or deadlock, read-only standby, lock timeout. */
const UNAVAILABLE_CODES = new Set(['40001', '40P01', '25006', '55P03']);

function code(err: unknown): string | undefined {
  const value = (err as { code?: unknown } | null)?.code;
  return typeof value === 'string' ? value : undefined;
}

/** The database (or the path to it) is down, restarting or failing over. */
export function isConnectionFailure(err: unknown): boolean {
  const c = code(err);
  if (c === undefined) return err instanceof Error && err.constructor === Error && CONNECTION_MESSAGE.test(err.message);
  // Node's socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND...).
  if (/^E[A-Z]+$/.test(c)) return true;
  return UNAVAILABLE_CLASSES.has(c.slice(0, 2));
}

/** The server answered, but takes no writes: a hot standby, or a primary demoted in a failover. */
export function isReadOnly(err: unknown): boolean {
  return code(err) === '25006';
}

/** Worth a 503 and a retry by the sender, rather than a 500. */
export function isUnavailable(err: unknown): boolean {
  const c = code(err);
  return isConnectionFailure(err) || (c !== undefined && UNAVAILABLE_CODES.has(c));
}

/** Whatever is said about the database, with the URL's password taken out. */
export class Redactor {
  private readonly secrets: string[];

  constructor(url: string) {
    let password: string;
    try {
      password = new URL(url).password;
    } catch {
      // Not a URL (a key/value connection string): the whole string is the secret.
      password = url;
    }
    this.secrets = [...new Set([password, safeDecode(password)])]
      .filter((s) => s.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  /** An error safe to log or show: same class of information, never the password. */
  error(err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    const safe = new Error(this.text(message));
    const c = code(err);
    if (c) Object.assign(safe, { code: c });
    return safe;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Host, port, database and schema: enough to say which store, nothing that grants access. */
export function describeLocation(settings: PostgresSettings): string {
  try {
    const url = new URL(settings.url);
    return `postgres://${url.host}${url.pathname} (schema ${settings.schema})`;
  } catch {
    return `postgres (schema ${settings.schema})`;
  }
}

const QUERY_TIMEOUT_MS = 5000;
/** Pruning and migrating walk whole tables; they run in the background and may take their time. */
const LONG_QUERY_TIMEOUT_MS = 120_000;

/** A query allowed the long timeout. */
export function longQuery(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: LONG_QUERY_TIMEOUT_MS } as pg.QueryConfig;
}

/**
 * `durable: false` is for a pool that never acknowledges a webhook (the delivery worker's): its
 * commits (claims, marks, attempt rows) do not wait for the WAL flush. A crash may forget the
 * last fraction of a second of them, which makes a delivery happen again, as at-least-once
 * allows; waiting would make every delivery cost two or three flushes, competing on the disk
 * with the flushes the acknowledgements wait for. A later durable commit flushes them anyway.
 */
export function createPool(settings: PostgresSettings, applicationName: string, durable = true): pg.Pool {
  return new pg.Pool({
    connectionString: settings.url,
    ...(durable ? {} : { options: '-c synchronous_commit=off' }),
    max: settings.poolSize,
    // A webhook sender waits on this: fail over to a 503 quickly rather than hang.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // Every query the gateway makes on its own is small and indexed: one that has not answered in
    // a few seconds is on a connection that will never answer (a dead node, a dropped path), and
    // timing it out is what frees the connection for one that works.
    query_timeout: QUERY_TIMEOUT_MS,
    // The gateway's transactions run their statements back to back. One left idle for seconds
    // belongs to a replica that stopped mid-transaction (a long pause, SIGSTOP, a frozen node)
    // while holding row and advisory locks every other replica's commits wait on: the server
    // ends that session, which releases them, and the stalled replica's commit fails (a 503).
    idle_in_transaction_session_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    application_name: applicationName,
    types,
  });
}

/** A quoted SQL identifier; schema names are validated by the config, this is the second fence. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Runs `work` between BEGIN and COMMIT on one connection; rolls back when it throws. */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** What a PostgreSQL-only query needs: the (quoted) schema and a way to run SQL. */
export interface SchemaSql {
  schema: string;
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
}
