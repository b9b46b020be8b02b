import type pg from 'pg';
import type {
  DeliveryCounts,
  DeliveryFilter,
  DeliveryPage,
  DeliverySettings,
  DropFilter,
  ListFilter,
  PruneResult,
} from '../types';
import { inTransaction, longQuery } from './postgres-connection';
import { countsByEmitter, recordFromRow, type CountRow, type RecordRow } from './rows';

/** The operator's queries need the (quoted) schema and a way to run SQL; nothing of the store's state. */
export interface Sql {
  schema: string;
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
}

/** WHERE clauses for the operator filters over `deliveries d JOIN events e`, numbered from $1. */
function filterClauses(filter: DeliveryFilter): { where: string[]; params: unknown[] } {
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

const whereSql = (where: string[]) => (where.length ? `WHERE ${where.join(' AND ')}` : '');

export async function listDeliveries(db: Sql, filter: ListFilter): Promise<DeliveryPage> {
  const { where, params } = filterClauses(filter);
  if (filter.state !== undefined) {
    params.push(filter.state);
    where.push(`d.state = $${params.length}`);
  }
  const limit = filter.limit ?? 100;
  params.push(limit + 1);
  const rows = await db.query<RecordRow>(
    `SELECT d.id, e.id AS event_id, e.source, e.provider, e.type, e.registry, e.repo,
            d.emitter, d.state, d.attempts, d.last_error, e.accepted_at,
            d.created_at, d.updated_at, d.next_attempt_at, d.delivered_at
       FROM ${db.schema}.deliveries d JOIN ${db.schema}.events e ON e.seq = d.event_seq
      ${whereSql(where)}
      ORDER BY d.id DESC
      LIMIT $${params.length}`,
    params,
  );
  return { rows: rows.slice(0, limit).map(recordFromRow), truncated: rows.length > limit };
}

/** Re-queues dead rows and, in the same statement, wakes every replica's dispatcher for them. */
export async function replayDeliveries(db: Sql, filter: DeliveryFilter, now: number, channel: string): Promise<number> {
  const { where, params } = filterClauses(filter);
  const at = params.push(now);
  const ch = params.push(channel);
  const rows = await db.query<{ emitter: string }>(
    `WITH replayed AS (
       UPDATE ${db.schema}.deliveries SET state = 'pending', attempts = 0, next_attempt_at = $${at},
              updated_at = $${at}, lease_owner = NULL, lease_until = NULL
        WHERE state = 'dead' AND id IN (
          SELECT d.id FROM ${db.schema}.deliveries d JOIN ${db.schema}.events e ON e.seq = d.event_seq
          ${whereSql(where)})
       RETURNING emitter
     ), woken AS (
       SELECT pg_notify($${ch}, string_agg(DISTINCT emitter, ',')) FROM replayed HAVING count(*) > 0
     )
     SELECT emitter FROM replayed, (SELECT count(*) FROM woken) w`,
    params,
  );
  return rows.length;
}

export async function dropDeliveries(db: Sql, filter: DropFilter): Promise<number> {
  const { where, params } = filterClauses(filter);
  const states = params.push(filter.state ? [filter.state] : ['pending', 'dead']);
  const rows = await db.query(
    `DELETE FROM ${db.schema}.deliveries
      WHERE state = ANY($${states}::text[]) AND id IN (
        SELECT d.id FROM ${db.schema}.deliveries d JOIN ${db.schema}.events e ON e.seq = d.event_seq
        ${whereSql(where)})
      RETURNING id`,
    params,
  );
  return rows.length;
}

export async function countDeliveries(db: Sql): Promise<DeliveryCounts[]> {
  const rows = await db.query<CountRow>(
    `SELECT emitter, state, count(*)::int AS n FROM ${db.schema}.deliveries
      WHERE state IN ('pending', 'dead') GROUP BY state, emitter`,
  );
  return countsByEmitter(rows);
}

/** One replica prunes at a time; the others skip rather than queue behind it. */
export async function pruneStore(
  client: pg.ClientBase,
  schema: string,
  settings: DeliverySettings,
  nowMs: number,
): Promise<PruneResult> {
  return inTransaction(client, async () => {
    const { rows } = await client.query<{ locked: boolean }>(
      longQuery('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [`registry-gateway prune ${schema}`]),
    );
    if (!rows[0].locked) return { deliveries: 0, events: 0, dedupKeys: 0 };
    const deliveries = await client.query(
      longQuery(`DELETE FROM ${schema}.deliveries WHERE state = 'delivered' AND delivered_at < $1`, [
        nowMs - settings.deliveredRetentionSeconds * 1000,
      ]),
    );
    await client.query(
      longQuery(
        `DELETE FROM ${schema}.attempts a WHERE NOT EXISTS (SELECT 1 FROM ${schema}.deliveries d WHERE d.id = a.delivery_id)`,
      ),
    );
    const events = await client.query(
      longQuery(
        `DELETE FROM ${schema}.events e WHERE NOT EXISTS (SELECT 1 FROM ${schema}.deliveries d WHERE d.event_seq = e.seq)`,
      ),
    );
    const dedupKeys = await client.query(
      longQuery(`DELETE FROM ${schema}.dedup_keys WHERE seen_at <= $1`, [nowMs - settings.dedupWindowSeconds * 1000]),
    );
    await client.query(longQuery(`DELETE FROM ${schema}.windows WHERE ends_at < $1`, [nowMs]));
    return { deliveries: deliveries.rowCount ?? 0, events: events.rowCount ?? 0, dedupKeys: dedupKeys.rowCount ?? 0 };
  });
}
