import type { RegistryEvent } from '../../model/event';
import type { AttemptRecord, DeliveryState, EventDetail, EventListPage, EventListing, EventQuery } from '../types';
import type { TargetHealth, TargetRecord } from '../types';
import { ATTEMPT_COLUMNS, attemptFromRow, attemptRowsStatement, type AttemptRow } from './attempt-rows';
import { ConsoleRequeue } from './console-requeue';
import type { Dialect, RunSql, Sql } from './dialect';
import { eventWhere } from './event-filter';
import { recordFromRow, type RecordRow } from './rows';
import { DEFAULT_HELD_PART_PAGE, HELD_PART_COLUMNS, heldPartFromRow } from './held-parts';
import type { HeldPart, HeldPartQuery, HeldPartRow } from './held-parts';
import { RequestLogTable, type RequestLogWrite, type RequestPage, type RequestQuery } from './request-log';
import type { RequestRecord } from './request-log';

const DEFAULT_EVENT_PAGE = 50;
const MAX_EVENT_PAGE = 500;

/** An events row as selected: the listing's own fields, with SQL's nulls and column names. */
type EventRow = Omit<EventListing, 'repo' | 'tag' | 'acceptedAt' | 'deliveries'> & {
  repo: string | null;
  tag: string | null;
  accepted_at: number;
};

const RECORD_COLUMNS = `d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
       d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
       d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at, d.note`;

function listingFromRow(row: EventRow): EventListing {
  const listing: EventListing = {
    seq: Number(row.seq),
    id: row.id,
    source: row.source,
    provider: row.provider,
    type: row.type,
    registry: row.registry,
    acceptedAt: Number(row.accepted_at),
    deliveries: [],
  };
  if (row.repo !== null) listing.repo = row.repo;
  if (row.tag !== null) listing.tag = row.tag;
  return listing;
}

/**
 * The console's reads (and the dispatcher's attempt log), on either engine. Every list is a
 * keyset page over an indexed column, never an OFFSET, so a page costs the same at row 100 000.
 */
export class StoreInspection {
  private readonly sql: Dialect;
  private readonly run: RunSql;
  /** The console's actions that put rows back in the queue, over the same port. */
  readonly requeue: ConsoleRequeue;

  /** The request log's table, read through Inspection and written through RequestWriter. */
  readonly requests: RequestLogTable;

  constructor(port: Sql, writeRequests?: RequestLogWrite) {
    this.sql = port.dialect;
    this.run = port.run;
    this.requeue = new ConsoleRequeue(port);
    this.requests = new RequestLogTable(port, writeRequests);
  }

  /** One attempt row (attempt-rows.ts; PostgreSQL writes a turn's rows at once: postgres-outcomes.ts). */
  async recordAttempt(a: AttemptRecord): Promise<void> {
    const { text, params } = attemptRowsStatement(this.sql, [a]);
    await this.run(text, params);
  }

  /** Held parts, newest first: the CLI's held list, and what one push absorbed for the console. */
  async listHeldParts(query: HeldPartQuery): Promise<HeldPart[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (placeholder: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(this.sql.param(params.length)));
    };
    if (query.state) add((p) => `state = ${p}`, query.state);
    if (query.push) {
      add((p) => `push_source = ${p}`, query.push.source);
      add((p) => `push_id = ${p}`, query.push.id);
    }
    params.push(query.limit ?? DEFAULT_HELD_PART_PAGE);
    const rows = await this.run<HeldPartRow>(
      `SELECT ${HELD_PART_COLUMNS} FROM ${this.sql.table('held_parts')}
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY accepted_at DESC, id LIMIT ${this.sql.param(params.length)}`,
      params,
    );
    return rows.map(heldPartFromRow);
  }

  async listEvents(query: EventQuery): Promise<EventListPage> {
    const { where, params } = eventWhere(this.sql, query);
    if (query.before !== undefined) {
      params.push(query.before);
      where.push(`e.seq < ${this.sql.param(params.length)}`);
    }
    const limit = Math.min(Math.max(1, query.limit ?? DEFAULT_EVENT_PAGE), MAX_EVENT_PAGE);
    params.push(limit + 1);
    const rows = await this.run<EventRow>(
      `SELECT e.seq, e.id, e.source, e.provider, e.type, e.registry, e.repo, e.tag, e.accepted_at
         FROM ${this.sql.table('events')} e
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY e.seq DESC
        LIMIT ${this.sql.param(params.length)}`,
      params,
    );
    const events = rows.slice(0, limit).map(listingFromRow);
    await this.attachDeliveries(events);
    const page: EventListPage = { events };
    if (rows.length > limit) page.nextBefore = events[events.length - 1].seq;
    return page;
  }

  private async attachDeliveries(events: EventListing[]): Promise<void> {
    if (events.length === 0) return;
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    const rows = await this.run<{ event_seq: number; emitter: string; state: DeliveryState; attempts: number }>(
      `SELECT event_seq, emitter, state, attempts FROM ${this.sql.table('deliveries')}
        WHERE event_seq ${this.sql.inList(this.sql.param(1))} ORDER BY id`,
      [this.sql.listValue([...bySeq.keys()])],
    );
    for (const row of rows) {
      bySeq
        .get(Number(row.event_seq))
        ?.deliveries.push({ emitter: row.emitter, state: row.state, attempts: row.attempts });
    }
  }

  async eventDetail(seq: number): Promise<EventDetail | undefined> {
    const p1 = this.sql.param(1);
    const [event] = await this.run<{ seq: number; body: string; accepted_at: number }>(
      `SELECT seq, body, accepted_at FROM ${this.sql.table('events')} WHERE seq = ${p1}`,
      [seq],
    );
    if (!event) return undefined;
    const deliveries = await this.run<RecordRow>(
      `SELECT ${RECORD_COLUMNS}
         FROM ${this.sql.table('deliveries')} d JOIN ${this.sql.table('events')} e ON e.seq = d.event_seq
        WHERE d.event_seq = ${p1} ORDER BY d.id`,
      [seq],
    );
    const attempts = await this.run<AttemptRow>(
      `SELECT ${ATTEMPT_COLUMNS.split(', ')
        .map((c) => `a.${c}`)
        .join(', ')}
         FROM ${this.sql.table('attempts')} a JOIN ${this.sql.table('deliveries')} d ON d.id = a.delivery_id
        WHERE d.event_seq = ${p1} ORDER BY a.id`,
      [seq],
    );
    return {
      seq: Number(event.seq),
      acceptedAt: Number(event.accepted_at),
      event: JSON.parse(event.body) as RegistryEvent,
      deliveries: deliveries.map(recordFromRow),
      attempts: attempts.map(attemptFromRow),
    };
  }

  /** Every emitter that has rows; `recentMs` is the window of `deliveredRecently`. */
  async targetHealth(nowMs: number, recentMs: number): Promise<TargetHealth[]> {
    const deliveries = this.sql.table('deliveries');
    const byState = await this.run<{ emitter: string; state: DeliveryState; n: number }>(
      `SELECT emitter, state, count(*) AS n FROM ${deliveries} GROUP BY state, emitter`,
      [],
    );
    const recent = await this.run<{ emitter: string; n: number }>(
      `SELECT emitter, count(*) AS n FROM ${deliveries}
        WHERE state = 'delivered' AND delivered_at >= ${this.sql.param(1)} GROUP BY emitter`,
      [nowMs - recentMs],
    );
    const latest = await this.run<{ emitter: string; at: number }>(
      `SELECT emitter, max(delivered_at) AS at FROM ${deliveries} WHERE state = 'delivered' GROUP BY emitter`,
      [],
    );
    const attempts = this.sql.table('attempts');
    const failures = await this.run<AttemptRow>(
      `SELECT ${ATTEMPT_COLUMNS} FROM ${attempts}
        WHERE id IN (SELECT max(id) FROM ${attempts} WHERE NOT ok GROUP BY emitter)`,
      [],
    );
    const health = new Map<string, TargetHealth>();
    const entry = (emitter: string) => {
      let found = health.get(emitter);
      if (!found) {
        found = { emitter, pending: 0, dead: 0, delivered: 0, deliveredRecently: 0 };
        health.set(emitter, found);
      }
      return found;
    };
    for (const row of byState) entry(row.emitter)[row.state] = Number(row.n);
    for (const row of recent) entry(row.emitter).deliveredRecently = Number(row.n);
    for (const row of latest) if (row.at !== null) entry(row.emitter).lastSuccess = Number(row.at);
    for (const row of failures.map(attemptFromRow)) {
      const failed: TargetHealth['lastError'] = { message: row.error ?? 'failed', at: row.startedAt };
      if (row.status !== undefined) failed.status = row.status;
      entry(row.emitter).lastError = failed;
    }
    return [...health.values()].sort((a, b) => a.emitter.localeCompare(b.emitter));
  }
}

/**
 * The console's part of the store interface, the same on both engines: each engine sets
 * `inspection` with its dialect and runner and inherits these.
 */
export abstract class InspectableStore {
  protected abstract readonly inspection: StoreInspection;
  /** Each target's circuit as the dispatcher recorded it (the `targets` table). */
  abstract targets(): Promise<TargetRecord[]>;

  /** Runs one of the console's writes; SQLite overrides it to note the volume's health on the way. */
  protected write<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  recordAttempt(attempt: AttemptRecord): Promise<void> {
    return this.inspection.recordAttempt(attempt);
  }

  listEvents(query: EventQuery = {}): Promise<EventListPage> {
    return this.inspection.listEvents(query);
  }

  eventDetail(seq: number): Promise<EventDetail | undefined> {
    return this.inspection.eventDetail(seq);
  }

  listHeldParts(query: HeldPartQuery = {}): Promise<HeldPart[]> {
    return this.inspection.listHeldParts(query);
  }

  listRequests(query: RequestQuery = {}): Promise<RequestPage> {
    return this.inspection.requests.list(query);
  }

  recordRequests(records: readonly RequestRecord[]): Promise<void> {
    return this.inspection.requests.insert(records);
  }

  retryNow(ids: number[], nowMs: number): Promise<number> {
    return this.write(() => this.inspection.requeue.retryNow(ids, nowMs));
  }

  sendAgain(ids: number[], note: string, nowMs: number): Promise<number> {
    return this.write(() => this.inspection.requeue.sendAgain(ids, note, nowMs));
  }

  deadIds(query: EventQuery): Promise<number[]> {
    return this.inspection.requeue.deadIds(query);
  }

  /** The counts and last errors, with each target's circuit where the dispatcher recorded one. */
  async targetHealth(nowMs: number, recentMs: number): Promise<TargetHealth[]> {
    const [health, targets] = await Promise.all([this.inspection.targetHealth(nowMs, recentMs), this.targets()]);
    const circuits = new Map(targets.map((t) => [t.emitter, t]));
    return health.map((h) => {
      const t = circuits.get(h.emitter);
      if (!t) return h;
      const circuit: NonNullable<TargetHealth['circuit']> = { state: t.state, since: t.since };
      if (t.lastError !== undefined) circuit.lastError = t.lastError;
      return { ...h, circuit };
    });
  }
}
