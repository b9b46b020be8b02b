import type Database from 'better-sqlite3';
import { EVENT_COLUMNS } from './event-columns';

/** Bumped whenever the tables change; a newer file is refused rather than misread. */
export const SQLITE_SCHEMA_VERSION = 2;

export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,${EVENT_COLUMNS}
);
CREATE INDEX IF NOT EXISTS events_by_key ON events (id, source);

CREATE TABLE IF NOT EXISTS deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  event_seq       INTEGER NOT NULL REFERENCES events (seq),
  emitter         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
-- The dispatcher's question: what is due for this emitter now, soonest first.
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (emitter, state, next_attempt_at);
-- Counts for the gauges and the maxPending check, without walking delivered history.
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state, emitter);
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_seq);
CREATE INDEX IF NOT EXISTS deliveries_delivered_at ON deliveries (delivered_at) WHERE state = 'delivered';

CREATE TABLE IF NOT EXISTS dedup_keys (
  source  TEXT NOT NULL,
  id      TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_keys_by_age ON dedup_keys (seen_at);

-- Version 2. Each target's circuit, written by the dispatcher so that the operator CLI (another
-- process) can show which targets are paused and why.
CREATE TABLE IF NOT EXISTS targets (
  emitter    TEXT PRIMARY KEY,
  state      TEXT NOT NULL CHECK (state IN ('closed', 'open')),
  since      INTEGER NOT NULL,
  last_error TEXT,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Creates or upgrades the tables; refuses a file written by a newer gateway rather than misread it. */
export function migrateSqlite(db: Database.Database, file: string): void {
  // IMMEDIATE: the gateway and the CLI may open a fresh file at the same moment.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `${file} was written by a newer registry-gateway (schema ${version}, this one knows ${SQLITE_SCHEMA_VERSION})`,
      );
    }
    db.exec(SQLITE_SCHEMA);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  }).immediate();
}
