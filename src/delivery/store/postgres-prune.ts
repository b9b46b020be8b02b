import type pg from 'pg';
import type { PruneResult } from '../types';
import type { Dialect } from './dialect';
import { pruneStatements, type PruneCutoffs } from './operator';
import { inTransaction, longQuery } from './postgres-connection';

/**
 * The shared prune in one transaction, with what only PostgreSQL has: one replica prunes at a
 * time (the others skip rather than queue behind it), and the shared windows table.
 */
export function pruneShared(
  client: pg.ClientBase,
  dialect: Dialect,
  schema: string,
  cutoffs: PruneCutoffs & { nowMs: number },
): Promise<PruneResult> {
  const q = pruneStatements(dialect, cutoffs);
  const removed = async (s: { text: string; params: unknown[] }) =>
    (await client.query(longQuery(s.text, s.params))).rowCount ?? 0;
  return inTransaction(client, async () => {
    const { rows } = await client.query<{ locked: boolean }>(
      longQuery('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [`registry-gateway prune ${schema}`]),
    );
    if (!rows[0].locked) return { deliveries: 0, events: 0, dedupKeys: 0, requests: 0 };
    const deliveries = await removed(q.deliveries);
    await removed(q.attempts);
    const events = await removed(q.events);
    const dedupKeys = await removed(q.dedupKeys);
    await client.query(longQuery(`DELETE FROM ${dialect.table('windows')} WHERE ends_at < $1`, [cutoffs.nowMs]));
    let requests = 0;
    for (const statement of q.requests) requests += await removed(statement);
    return { deliveries, events, dedupKeys, requests };
  });
}
