/**
 * The events table's own columns, written once for both engines: these SQL types mean the same in
 * SQLite (BIGINT has integer affinity) and PostgreSQL. Part of schema version 1 of each engine, so
 * a change is a new migration in both, never an edit here.
 */
export const EVENT_COLUMNS = `
  source      TEXT NOT NULL,
  id          TEXT NOT NULL,
  provider    TEXT NOT NULL,
  type        TEXT NOT NULL,
  registry    TEXT NOT NULL,
  repo        TEXT,
  body        TEXT NOT NULL,
  accepted_at BIGINT NOT NULL`;
