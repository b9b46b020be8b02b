import type Database from 'better-sqlite3';
import type { PruneResult } from '../types';
import { SQLITE_DIALECT } from './dialect';
import { pruneStatements, type PruneCutoffs } from './operator';
import type { Statement } from './steps';

/**
 * The prune on SQLite (the statements are operator.ts's, shared with PostgreSQL): the delivery
 * tables in one IMMEDIATE transaction, then the request log in a second, so neither holds the
 * write lock that the listener's accepts wait on for longer than its own part takes.
 */
export function pruneSqlite(db: Database.Database, cutoffs: PruneCutoffs): PruneResult {
  const q = pruneStatements(SQLITE_DIALECT, cutoffs);
  const removed = (statement: Statement) => db.prepare(statement.text).run(...statement.params).changes;
  const result = db
    .transaction(() => {
      const deliveries = removed(q.deliveries);
      removed(q.attempts);
      return { deliveries, events: removed(q.events), dedupKeys: removed(q.dedupKeys) };
    })
    .immediate();
  const requests = db.transaction(() => q.requests.reduce((n, s) => n + removed(s), 0)).immediate();
  // Without waiting for the autocheckpoint, so that the WAL is cut back to journal_size_limit.
  db.pragma('wal_checkpoint(PASSIVE)');
  return { ...result, requests };
}
