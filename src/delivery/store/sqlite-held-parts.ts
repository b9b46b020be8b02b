import type Database from 'better-sqlite3';
import type { Metrics } from '../../observability/metrics';
import type { PreparedEvent } from './commit-group';
import { SQLITE_DIALECT } from './dialect';
import type { CollapseOptions, ReleaseResult } from './held-parts';
import { holdOrAbsorb, releaseDue } from './part-holding';
import { runSync, sqliteExec } from './steps';

/**
 * Tag state and held parts (part-holding.ts) run on SQLite: synchronously, inside the accept
 * transaction, event by event in order, so a tagged push stored earlier in the same group is
 * already in `events` when its parts come, and parts held earlier are in their table when their
 * push comes. The release runs IMMEDIATE: the listener's connection and the delivery worker's
 * both write the file.
 */
export class SqliteHeldParts {
  private readonly exec;
  readonly release: Database.Transaction<(now: number) => ReleaseResult>;

  constructor(
    db: Database.Database,
    private readonly collapse: CollapseOptions | undefined,
    private readonly metrics?: Metrics,
  ) {
    this.exec = sqliteExec(db);
    const take = (now: number) => (state: 'released' | 'dropped') => ({
      text: `UPDATE held_parts SET state = ?, settled_at = ?
              WHERE rowid IN (SELECT rowid FROM held_parts WHERE state = 'held' AND release_at <= ?
                               ORDER BY release_at LIMIT 500)
             RETURNING source, id, body, emitters, accepted_at`,
      params: [state, now, now],
    });
    this.release = db.transaction((now: number) =>
      runSync(releaseDue(SQLITE_DIALECT, take(now), now, collapse, metrics), this.exec),
    );
  }

  /** Inside the accept transaction, for one fresh event: false when it is held rather than stored. */
  accept(prepared: PreparedEvent, now: number): boolean {
    const holding = { now, collapse: this.collapse, metrics: this.metrics };
    return runSync(holdOrAbsorb(SQLITE_DIALECT, [prepared], holding), this.exec).length > 0;
  }
}
