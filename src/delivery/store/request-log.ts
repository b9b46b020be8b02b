import type { Dialect, Sql } from './dialect';
import type { SchemaDialect } from './migrations';
import type { Statement } from './steps';

/** What a request to `/events*` ended as: the Reply's outcome, kept for the operator. */
export type RequestResult = 'accepted' | 'duplicate' | 'ignored' | 'answered' | 'refused';

/** One inbound request as the request log keeps it: never a token value, never an unredacted path. */
export interface RequestRecord {
  receivedAt: number;
  /** The client address the request came from (the proxy's, unless trust proxy says otherwise). */
  source: string;
  method: string;
  /** With the `/events/<provider>/<secret>` segment redacted. */
  path: string;
  provider?: string;
  /** The NAME of the token the request proved, never its value. */
  token?: string;
  status: number;
  result: RequestResult;
  /** Why it was ignored, answered or refused (the refusal's kind first). */
  reason?: string;
  /** The events of an accepted or duplicate request. */
  eventIds?: string[];
  latencyMs: number;
  /** A refused request's body, when `requests.keepRefusedBodies` is on, cut at 64 KB. */
  body?: string;
}

/** A listed request: its row id, and each event it created with the sequence number the console addresses. */
export interface RequestListing extends Omit<RequestRecord, 'eventIds'> {
  id: number;
  events: { id: string; seq?: number }[];
}

export interface RequestQuery {
  /** 2, 4 or 5: the status class. */
  statusClass?: number;
  provider?: string;
  token?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Only rows older than this row id (the next page). */
  before?: number;
  limit?: number;
}

export interface RequestPage {
  requests: RequestListing[];
  /** The `before` of the next page; absent on the last one. */
  nextBefore?: number;
}

/** How long, and how many, requests are kept (`requests.*` in the config). */
export interface RequestLogLimits {
  retentionHours: number;
  maxRows: number;
}

/** The config's defaults, for a store opened without limits (the CLI, tests): never unbounded. */
export const DEFAULT_REQUEST_LOG_LIMITS: RequestLogLimits = { retentionHours: 24, maxRows: 100_000 };

/** How each engine writes a batch of request rows: without an fsync of its own, never waiting long. */
export type RequestLogWrite = (statement: Statement) => Promise<void>;

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const COLUMNS = [
  'received_at',
  'source',
  'method',
  'path',
  'provider',
  'token',
  'status',
  'result',
  'reason',
  'event_ids',
  'latency_ms',
  'body',
] as const;

interface RequestRow {
  id: number | string;
  received_at: number | string;
  source: string;
  method: string;
  path: string;
  provider: string | null;
  token: string | null;
  status: number;
  result: RequestResult;
  reason: string | null;
  event_ids: string | null;
  latency_ms: number;
  body: string | null;
}

/** The table: one row per request, read newest first by id, pruned by age and by count. */
export function requestLogSchema(d: SchemaDialect): string {
  return `
CREATE TABLE IF NOT EXISTS ${d.table('requests')} (
  id          ${d.serialKey},
  received_at BIGINT NOT NULL,
  source      TEXT NOT NULL,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  provider    TEXT,
  token       TEXT,
  status      INTEGER NOT NULL,
  result      TEXT NOT NULL,
  reason      TEXT,
  event_ids   TEXT,
  latency_ms  DOUBLE PRECISION NOT NULL,
  body        TEXT
);
CREATE INDEX IF NOT EXISTS requests_by_time ON ${d.table('requests')} (received_at);`;
}

function values(r: RequestRecord): unknown[] {
  const events = r.eventIds?.length ? JSON.stringify(r.eventIds) : null;
  const row = [r.receivedAt, r.source, r.method, r.path, r.provider, r.token, r.status, r.result, r.reason];
  return [...row.map((v) => v ?? null), events, r.latencyMs, r.body ?? null];
}

function listingFromRow(row: RequestRow, seqs: Map<string, number>): RequestListing {
  const ids = row.event_ids ? (JSON.parse(row.event_ids) as string[]) : [];
  const listing: RequestListing = {
    id: Number(row.id),
    receivedAt: Number(row.received_at),
    source: row.source,
    method: row.method,
    path: row.path,
    status: row.status,
    result: row.result,
    latencyMs: Number(row.latency_ms),
    events: ids.map((id) => (seqs.has(id) ? { id, seq: seqs.get(id) } : { id })),
  };
  if (row.provider !== null) listing.provider = row.provider;
  if (row.token !== null) listing.token = row.token;
  if (row.reason !== null) listing.reason = row.reason;
  if (row.body !== null) listing.body = row.body;
  return listing;
}

/** One multi-row INSERT for a batch, so that SQLite runs it inside the caller's synchronous section. */
function insertStatement(d: Dialect, records: readonly RequestRecord[]): Statement {
  const params: unknown[] = [];
  const tuples = records.map((r) => {
    const start = params.length;
    params.push(...values(r));
    return `(${COLUMNS.map((_, i) => d.param(start + i + 1)).join(', ')})`;
  });
  return { text: `INSERT INTO ${d.table('requests')} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params };
}

/**
 * The request log's part of the store's prune (operator.ts), so one schedule cuts every table:
 * rows received before `before`, then all but the newest `maxRows` (the oldest go first).
 */
export function requestPruneStatements(d: Dialect, before: number, maxRows: number): Statement[] {
  const table = d.table('requests');
  return [
    { text: `DELETE FROM ${table} WHERE received_at < ${d.param(1)}`, params: [before] },
    {
      text: `DELETE FROM ${table} WHERE id <= (SELECT id FROM ${table} ORDER BY id DESC LIMIT 1 OFFSET ${d.param(1)})`,
      params: [maxRows],
    },
  ];
}

/**
 * The request log's queries, written once for both engines; a batch is written by the engine's
 * own `RequestLogWrite` (sqlite-request-log.ts, postgres-request-log.ts).
 */
export class RequestLogTable {
  constructor(
    private readonly sql: Sql,
    /** The engine's write for diagnostics; a plain statement when it has none. */
    private readonly write: RequestLogWrite = async (s) => void (await sql.run(s.text, s.params)),
  ) {}

  async insert(records: readonly RequestRecord[]): Promise<void> {
    if (records.length > 0) await this.write(insertStatement(this.sql.dialect, records));
  }

  async list(query: RequestQuery = {}): Promise<RequestPage> {
    const d = this.sql.dialect;
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(d.param(params.length)));
    };
    if (query.statusClass !== undefined) {
      add((p) => `status >= ${p}`, query.statusClass * 100);
      add((p) => `status < ${p}`, query.statusClass * 100 + 100);
    }
    if (query.provider) add((p) => `provider = ${p}`, query.provider);
    if (query.token) add((p) => `token = ${p}`, query.token);
    if (query.since !== undefined) add((p) => `received_at >= ${p}`, query.since);
    if (query.until !== undefined) add((p) => `received_at < ${p}`, query.until);
    if (query.before !== undefined) add((p) => `id < ${p}`, query.before);
    const limit = Math.min(Math.max(query.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
    params.push(limit + 1);
    const rows = await this.sql.run<RequestRow>(
      `SELECT id, ${COLUMNS.join(', ')} FROM ${d.table('requests')}
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${d.param(params.length)}`,
      params,
    );
    const page = rows.slice(0, limit);
    const seqs = await this.eventSeqs(page.flatMap((r) => (r.event_ids ? (JSON.parse(r.event_ids) as string[]) : [])));
    const result: RequestPage = { requests: page.map((r) => listingFromRow(r, seqs)) };
    if (rows.length > limit) result.nextBefore = Number(page[page.length - 1].id);
    return result;
  }

  /** The newest stored event of each id: what the console's event pages are addressed by. */
  private async eventSeqs(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const d = this.sql.dialect;
    const rows = await this.sql.run<{ id: string; seq: number | string }>(
      `SELECT id, MAX(seq) AS seq FROM ${d.table('events')} WHERE id ${d.inList(d.param(1), 'text')} GROUP BY id`,
      [d.listValue([...new Set(ids)])],
    );
    return new Map(rows.map((r) => [r.id, Number(r.seq)]));
  }
}
