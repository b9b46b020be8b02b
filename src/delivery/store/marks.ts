import { truncateError } from './commit-group';
import type { Dialect, Sql } from './dialect';
import type { Statement } from './steps';

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

/** One claimed row's outcome, and the lease it was claimed under where there is one. */
export interface RowMark {
  id: number;
  mark: Mark;
  lease?: HeldLease;
}

const MARK_COLUMNS = {
  row_id: 'bigint',
  from_state: 'text',
  tries: 'integer',
  mark_at: 'bigint',
  new_state: 'text',
  error_text: 'text',
  next_at: 'bigint',
  held_by: 'text',
  held_gen: 'bigint',
} as const;

/**
 * The statement that settles claimed rows, written once for both engines, one statement however
 * many there are: each statement is a round trip on PostgreSQL, and the outcomes of one loop turn
 * go together (postgres-outcomes.ts). Only a pending row changes (a row the operator dropped
 * mid-attempt stays gone), and under a lease only the lease it was claimed under: an attempt that
 * outlived its lease settles nothing taken since. Its rows name the ids that changed.
 * `param` is the number of its one parameter, for a statement that embeds it.
 */
export function settleRowsStatement(d: Dialect, marks: readonly RowMark[], param = 1): Statement {
  // Lease columns exist only where claims are leases (PostgreSQL); a batch is all one or the other.
  const leased = marks.some((m) => m.lease !== undefined);
  const rows = marks.map(({ id, mark, lease }) => ({
    row_id: id,
    // Named by each row rather than written as a constant, so SQLite looks each row up by its id
    // instead of walking every pending row (an index on state) and matching the batch against it.
    from_state: 'pending',
    tries: mark.attempts,
    mark_at: mark.at,
    new_state: mark.state,
    error_text: mark.state === 'delivered' ? null : truncateError(mark.error),
    next_at: mark.state === 'pending' ? mark.nextAttemptAt : null,
    held_by: lease?.owner ?? null,
    held_gen: lease?.generation ?? null,
  }));
  const set = [
    'attempts = m.tries',
    'updated_at = m.mark_at',
    'state = m.new_state',
    'last_error = m.error_text',
    `delivered_at = CASE WHEN m.new_state = 'delivered' THEN m.mark_at ELSE delivered_at END`,
    `next_attempt_at = CASE WHEN m.new_state = 'pending' THEN m.next_at ELSE next_attempt_at END`,
  ];
  let where = 'id = m.row_id AND state = m.from_state';
  if (leased) {
    set.push('lease_owner = NULL', 'lease_until = NULL');
    where += ' AND lease_owner = m.held_by AND lease_generation = m.held_gen';
  }
  return {
    text: `UPDATE ${d.table('deliveries')} SET ${set.join(', ')}
       FROM ${d.rowSet(d.param(param), 'm', MARK_COLUMNS)} WHERE ${where} RETURNING id`,
    params: [d.rowsValue(rows)],
  };
}

export function changedIds(rows: readonly { id: unknown }[]): Set<number> {
  return new Set(rows.map((r) => Number(r.id)));
}

/**
 * Settles one claimed row (settleRowsStatement); resolves whether it changed.
 *
 * One statement, issued before the first await: SQLite's runner has run it by the time this
 * returns, so a caller may wrap it in a synchronous section (marks skip their own fsync).
 */
export async function settleRow({ dialect, run }: Sql, id: number, mark: Mark, lease?: HeldLease): Promise<boolean> {
  const { text, params } = settleRowsStatement(dialect, [{ id, mark, lease }]);
  return changedIds(await run<{ id: unknown }>(text, params)).has(id);
}
