import type Database from 'better-sqlite3';
import { EVENT_COLUMNS } from './event-columns';
import { heldPartsSchema } from './held-parts';
import { tagStateSchema } from './tag-state';

/** Bumped whenever the tables change; a newer file is refused rather than misread. */
export const SQLITE_SCHEMA_VERSION = 5;

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

/**
 * Version 3, for the console: the tag as a column (its filter), the attempt history, and the
 * indexes that let each console filter read one keyset page without walking the table.
 */
const SQLITE_CONSOLE_SCHEMA = `
CREATE INDEX IF NOT EXISTS events_by_provider ON events (provider, seq);
CREATE INDEX IF NOT EXISTS events_by_registry ON events (registry, seq);
CREATE INDEX IF NOT EXISTS events_by_repo ON events (repo, seq);
CREATE INDEX IF NOT EXISTS events_by_tag ON events (tag, seq);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_state_event ON deliveries (state, event_seq);

CREATE TABLE IF NOT EXISTS attempts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id INTEGER NOT NULL,
  emitter     TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok          INTEGER NOT NULL,
  status      INTEGER,
  error       TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery_id);
-- The Targets page's "last error": the newest failed attempt per emitter.
CREATE INDEX IF NOT EXISTS attempts_failed ON attempts (emitter, id) WHERE NOT ok;
`;

/** Version 5, the same columns as PostgreSQL's version 6 (one transaction: all of them or none). */
const ATTEMPT_ANSWERS_SQLITE = `
ALTER TABLE attempts ADD COLUMN probe INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE attempts ADD COLUMN exchanges TEXT;
ALTER TABLE deliveries ADD COLUMN note TEXT;
`;

/**
 * Creates or upgrades the file's tables. Every step may run again (a version 1 file, a fresh
 * one, one upgraded by a gateway that died before writing the version), hence the column check.
 */
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
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(events)').all();
    if (!columns.some((c) => c.name === 'tag')) {
      db.exec(`ALTER TABLE events ADD COLUMN tag TEXT`);
      db.exec(`UPDATE events SET tag = json_extract(body, '$.tag')`);
    }
    db.exec(SQLITE_CONSOLE_SCHEMA);
    // Version 4: the last digest of each tag (tag-state.ts).
    db.exec(tagStateSchema('tag_state'));
    // Version 4 too: the parts of a push held for its tagged push (held-parts.ts).
    db.exec(heldPartsSchema('held_parts'));
    // Version 5: each attempt's requests and answers and whether it was a probe; a delivery's note.
    const attemptColumns = db.prepare<[], { name: string }>('PRAGMA table_info(attempts)').all();
    if (!attemptColumns.some((c) => c.name === 'exchanges')) db.exec(ATTEMPT_ANSWERS_SQLITE);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  }).immediate();
}
