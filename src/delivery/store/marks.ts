import { truncateError } from './commit-group';
import type { Sql } from './dialect';

/** An attempt's outcome, as the row records it. */
export type Mark =
  | { state: 'delivered'; attempts: number; at: number }
  | { state: 'pending'; attempts: number; at: number; nextAttemptAt: number; error: string }
  | { state: 'dead'; attempts: number; at: number; error: string };

/** The lease a row was claimed under (PostgreSQL); absent where claims are held in memory (SQLite). */
export interface HeldLease {
  owner: string;
  generation: number;
}

/**
 * Settles a claimed row, written once for both engines. Only a pending row changes (a row the
 * operator dropped mid-attempt stays gone), and under a lease only the lease it was claimed
 * under: an attempt that outlived its lease settles nothing taken since. Resolves whether the
 * row changed.
 *
 * One statement, issued before the first await: SQLite's runner has run it by the time this
 * returns, so a caller may wrap it in a synchronous section (marks skip their own fsync).
 */
export async function settleRow({ dialect: d, run }: Sql, id: number, mark: Mark, lease?: HeldLease): Promise<boolean> {
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return d.param(params.length);
  };
  const set = [`attempts = ${p(mark.attempts)}`, `updated_at = ${p(mark.at)}`];
  if (mark.state === 'delivered') set.push(`state = 'delivered'`, `last_error = NULL`, `delivered_at = ${p(mark.at)}`);
  else set.push(`state = '${mark.state}'`, `last_error = ${p(truncateError(mark.error))}`);
  if (mark.state === 'pending') set.push(`next_attempt_at = ${p(mark.nextAttemptAt)}`);
  if (lease) set.push('lease_owner = NULL', 'lease_until = NULL');
  let where = `id = ${p(id)} AND state = 'pending'`;
  if (lease) where += ` AND lease_owner = ${p(lease.owner)} AND lease_generation = ${p(lease.generation)}`;
  const rows = await run(`UPDATE ${d.table('deliveries')} SET ${set.join(', ')} WHERE ${where} RETURNING id`, params);
  return rows.length > 0;
}
