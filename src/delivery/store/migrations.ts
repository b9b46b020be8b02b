import type { Dialect } from './dialect';
import { EVENT_COLUMNS } from './event-columns';
import { heldPartsSchema } from './held-parts';
import { requestLogSchema } from './request-log';
import { tagStateSchema } from './tag-state';
import { addTraceColumns } from './trace-columns';

export type Engine = 'sqlite' | 'postgres';

/** What DDL needs of a dialect beyond the queries': the engine, for the steps only one of them has. */
export interface SchemaDialect extends Dialect {
  readonly engine: Engine;
  /** An auto-incrementing 64-bit primary key. */
  readonly serialKey: string;
  readonly boolean: string;
}

/**
 * Each entry moves the schema one version forward, the same version number on both engines for
 * the same change, written once; a step only one engine needs says so. Applied in order, once
 * per database, inside one transaction (under an advisory lock on PostgreSQL, so N replicas
 * starting together neither race nor fail: the first migrates, the rest find it done).
 */
const MIGRATIONS: ((d: SchemaDialect) => string)[] = [
  // 1: events, one row per (event, emitter), the dedup keys.
  (d) => `
CREATE TABLE IF NOT EXISTS ${d.table('events')} (
  seq         ${d.serialKey},${EVENT_COLUMNS}
);
CREATE INDEX IF NOT EXISTS events_by_key ON ${d.table('events')} (id, source);

CREATE TABLE IF NOT EXISTS ${d.table('deliveries')} (
  id              ${d.serialKey},
  event_seq       BIGINT NOT NULL REFERENCES ${d.table('events')} (seq),
  emitter         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error      TEXT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  delivered_at    BIGINT${d.engine === 'postgres' ? LEASE_COLUMNS : ''}
);
${d.engine === 'postgres' ? POSTGRES_DUE_INDEXES(d) : SQLITE_DUE_INDEX}
-- Counts for the gauges and the maxPending check, without walking delivered history.
CREATE INDEX IF NOT EXISTS deliveries_by_state ON ${d.table('deliveries')} (state, emitter);
CREATE INDEX IF NOT EXISTS deliveries_by_event ON ${d.table('deliveries')} (event_seq);
CREATE INDEX IF NOT EXISTS deliveries_delivered_at ON ${d.table('deliveries')} (delivered_at) WHERE state = 'delivered';

-- On PostgreSQL the unique key is the dedup: two replicas inserting the same (source, id) serialise on it.
CREATE TABLE IF NOT EXISTS ${d.table('dedup_keys')} (
  source  TEXT NOT NULL,
  id      TEXT NOT NULL,
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (source, id)
)${d.engine === 'sqlite' ? ' WITHOUT ROWID' : ''};
CREATE INDEX IF NOT EXISTS dedup_keys_by_age ON ${d.table('dedup_keys')} (seen_at);
${d.engine === 'postgres' ? POSTGRES_WINDOWS(d) : ''}`,
  // 2: each target's circuit, so operators (and every replica's CLI) see which targets are paused
  // and why. One row per emitter; the process that last changed it wins.
  (d) => `
CREATE TABLE IF NOT EXISTS ${d.table('targets')} (
  emitter    TEXT PRIMARY KEY,
  state      TEXT NOT NULL CHECK (state IN ('closed', 'open')),
  since      BIGINT NOT NULL,
  last_error TEXT,
  updated_at BIGINT NOT NULL
)${d.engine === 'sqlite' ? ' WITHOUT ROWID' : ''};`,
  // 3, the console: the tag as a column (its filter), the attempt history, and the indexes that
  // let each console filter read one keyset page without walking the table.
  (d) => `
ALTER TABLE ${d.table('events')} ADD COLUMN tag TEXT;
UPDATE ${d.table('events')} SET tag = ${d.jsonText('body', 'tag')};
CREATE INDEX IF NOT EXISTS events_by_provider ON ${d.table('events')} (provider, seq);
CREATE INDEX IF NOT EXISTS events_by_registry ON ${d.table('events')} (registry, seq);
CREATE INDEX IF NOT EXISTS events_by_repo ON ${d.table('events')} (repo, seq);
CREATE INDEX IF NOT EXISTS events_by_tag ON ${d.table('events')} (tag, seq);
CREATE INDEX IF NOT EXISTS events_by_type ON ${d.table('events')} (type, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_state_event ON ${d.table('deliveries')} (state, event_seq);

CREATE TABLE IF NOT EXISTS ${d.table('attempts')} (
  id          ${d.serialKey},
  delivery_id BIGINT NOT NULL,
  emitter     TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  BIGINT NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok          ${d.boolean} NOT NULL,
  status      INTEGER,
  error       TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON ${d.table('attempts')} (delivery_id);
-- The Targets page's "last error": the newest failed attempt per emitter.
CREATE INDEX IF NOT EXISTS attempts_failed ON ${d.table('attempts')} (emitter, id) WHERE NOT ok;`,
  // 4: a fencing token per lease (PostgreSQL; SQLite's claims live in memory). Every claim makes
  // a new generation, and a mark or a renewal changes the row only under the generation it was
  // claimed with, so an attempt that outlived its lease can never settle a lease taken since.
  (d) =>
    d.engine === 'postgres'
      ? `ALTER TABLE ${d.table('deliveries')} ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0;`
      : '',
  // 5: the last digest of each tag (tag-state.ts) and the parts of a push held for its tagged
  // push (held-parts.ts).
  (d) => `${tagStateSchema(d.table('tag_state'))}
${heldPartsSchema(d.table('held_parts'))}`,
  // 6: the trace context each event was accepted in (trace-columns.ts).
  (d) => addTraceColumns(d.table('events')),
  // 7: what each attempt sent and got back (JSON, credentials hidden, bodies cut at 4 KB), whether
  // it was a circuit probe and whether it spent one of the row's attempts; and a note on a
  // delivery row saying why it exists (an operator sent a delivered event again).
  (d) => `
ALTER TABLE ${d.table('attempts')} ADD COLUMN probe ${d.boolean} NOT NULL DEFAULT false;
ALTER TABLE ${d.table('attempts')} ADD COLUMN counted ${d.boolean} NOT NULL DEFAULT true;
ALTER TABLE ${d.table('attempts')} ADD COLUMN exchanges TEXT;
ALTER TABLE ${d.table('deliveries')} ADD COLUMN note TEXT;`,
  // 8: the request log (request-log.ts): every request to /events and what it was answered.
  (d) => requestLogSchema(d),
  // 9: SQLite's due index becomes PostgreSQL's, pending rows only. Its first index had every row,
  // so each mark moved the row within it, and it grew with the history rather than the queue.
  (d) => (d.engine === 'sqlite' ? `DROP INDEX IF EXISTS deliveries_due;\n${DUE_INDEX(d)}` : ''),
];

/** Which replica is attempting a row, and until when it may: past that, another takes it. */
const LEASE_COLUMNS = `,
  lease_owner     TEXT,
  lease_until     BIGINT`;

/** The dispatchers' question: what is due for this emitter now, soonest first (SQLite until version 9). */
const SQLITE_DUE_INDEX = `CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (emitter, state, next_attempt_at);`;

const DUE_INDEX = (d: Dialect) =>
  `CREATE INDEX IF NOT EXISTS deliveries_due ON ${d.table('deliveries')} (emitter, next_attempt_at, id) WHERE state = 'pending';`;

const POSTGRES_DUE_INDEXES = (d: Dialect) => `
${DUE_INDEX(d)}
CREATE INDEX IF NOT EXISTS deliveries_leased ON ${d.table('deliveries')} (emitter, lease_until) WHERE lease_owner IS NOT NULL;`;

/** Work that must happen once per window across replicas (a Kubeapps refresh per AppRepository). */
const POSTGRES_WINDOWS = (d: Dialect) => `
CREATE TABLE IF NOT EXISTS ${d.table('windows')} (
  key        TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  ends_at    BIGINT NOT NULL
);`;

/** The version a database is at once every migration ran; a newer one is refused rather than misread. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Versions written before both engines shared one numbering, mapped to the same tables in it.
 * SQLite files said 4 for what is now 5 (tag state and held parts; PostgreSQL's 4, lease
 * fencing, has nothing to do on SQLite). PostgreSQL's numbers were already these.
 */
const LEGACY_VERSIONS: Record<Engine, Record<number, number>> = { sqlite: { 4: 5 }, postgres: {} };

/** The version a database at `stored` (as written, possibly under the old numbering) is at. */
export function currentVersion(engine: Engine, stored: number): number {
  return LEGACY_VERSIONS[engine][stored] ?? stored;
}

/**
 * The statements that bring a database from `from` to SCHEMA_VERSION; throws for a database
 * written by a newer gateway. `where` names it in that error.
 */
export function migrationsFrom(d: SchemaDialect, from: number, where: string): string[] {
  if (from > SCHEMA_VERSION) {
    throw new Error(
      `${where} was written by a newer registry-gateway (version ${from}, this one knows ${SCHEMA_VERSION})`,
    );
  }
  return MIGRATIONS.slice(from).map((step) => step(d));
}
