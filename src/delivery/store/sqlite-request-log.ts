import type Database from 'better-sqlite3';
import type { RequestLogWrite } from './request-log';
import { sqliteExec } from './steps';

/**
 * How long a request-log write waits for the file while another connection writes (the delivery
 * worker's, the operator CLI's). better-sqlite3 waits on the event loop, so a long wait would hold
 * every webhook answer behind diagnostics; a batch that cannot get the file in time is kept by
 * the recorder for its next one instead.
 */
export const REQUEST_LOG_BUSY_MS = 25;

/**
 * The request log's writes on SQLite, on the listener's own connection: without an fsync of their
 * own (the next accepted group's fsync makes them durable, the WAL being one file written in
 * order) and waiting at most REQUEST_LOG_BUSY_MS for the write lock. The connection's settings
 * are put back before this returns, so the accepts that follow keep `synchronous=FULL` and their
 * own busy timeout.
 */
export function sqliteRequestLogWrite(db: Database.Database): RequestLogWrite {
  const exec = sqliteExec(db);
  return (statement) => {
    const synchronous = db.pragma('synchronous', { simple: true }) as number;
    const busyMs = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma(`busy_timeout = ${REQUEST_LOG_BUSY_MS}`);
    db.pragma('synchronous = NORMAL');
    try {
      exec(statement);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    } finally {
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma(`busy_timeout = ${busyMs}`);
    }
  };
}
