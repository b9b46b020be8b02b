import type pg from 'pg';
import { EVENT_COLUMNS } from './event-columns';
import { ident, inTransaction, longQuery } from './postgres-connection';
import { heldPartsSchema } from './held-parts';
import { tagStateSchema } from './tag-state';

/**
 * Each entry moves the schema one version forward. Applied in order, once, under an advisory lock,
 * so N replicas starting together neither race nor fail: the first migrates, the rest find it done.
 */
const MIGRATIONS: ((schema: string) => string)[] = [
  (s) => `
CREATE TABLE ${s}.events (
  seq         BIGSERIAL PRIMARY KEY,${EVENT_COLUMNS}
);
CREATE INDEX events_by_key ON ${s}.events (id, source);

CREATE TABLE ${s}.deliveries (
  id              BIGSERIAL PRIMARY KEY,
  event_seq       BIGINT NOT NULL REFERENCES ${s}.events (seq),
  emitter         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error      TEXT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  delivered_at    BIGINT,
  -- Which replica is attempting the row, and until when it may: past that, another takes it.
  lease_owner     TEXT,
  lease_until     BIGINT
);
-- The dispatchers' question: what is due for this emitter now, soonest first.
CREATE INDEX deliveries_due ON ${s}.deliveries (emitter, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON ${s}.deliveries (emitter, lease_until) WHERE lease_owner IS NOT NULL;
CREATE INDEX deliveries_by_state ON ${s}.deliveries (state, emitter);
CREATE INDEX deliveries_by_event ON ${s}.deliveries (event_seq);
CREATE INDEX deliveries_delivered_at ON ${s}.deliveries (delivered_at) WHERE state = 'delivered';

-- The unique key is the dedup: two replicas inserting the same (source, id) serialise on it.
CREATE TABLE ${s}.dedup_keys (
  source  TEXT NOT NULL,
  id      TEXT NOT NULL,
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (source, id)
);
CREATE INDEX dedup_keys_by_age ON ${s}.dedup_keys (seen_at);

-- Work that must happen once per window across replicas (a Kubeapps refresh per AppRepository).
CREATE TABLE ${s}.windows (
  key        TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  ends_at    BIGINT NOT NULL
);`,
  // Version 2: each target's circuit, so operators (and every replica's CLI) see which targets
  // are paused and why. One row per emitter; the replica that last changed it wins.
  (s) => `
CREATE TABLE ${s}.targets (
  emitter    TEXT PRIMARY KEY,
  state      TEXT NOT NULL CHECK (state IN ('closed', 'open')),
  since      BIGINT NOT NULL,
  last_error TEXT,
  updated_at BIGINT NOT NULL
);`,
  // Version 3, the console: the tag as a column (its filter), the attempt history, and the indexes that let
  // each console filter read one keyset page without walking the table.
  (s) => `
ALTER TABLE ${s}.events ADD COLUMN tag TEXT;
UPDATE ${s}.events SET tag = body::jsonb->>'tag';
CREATE INDEX events_by_provider ON ${s}.events (provider, seq);
CREATE INDEX events_by_registry ON ${s}.events (registry, seq);
CREATE INDEX events_by_repo ON ${s}.events (repo, seq);
CREATE INDEX events_by_tag ON ${s}.events (tag, seq);
CREATE INDEX events_by_type ON ${s}.events (type, seq);
CREATE INDEX deliveries_by_state_event ON ${s}.deliveries (state, event_seq);

CREATE TABLE ${s}.attempts (
  id          BIGSERIAL PRIMARY KEY,
  delivery_id BIGINT NOT NULL,
  emitter     TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  BIGINT NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok          BOOLEAN NOT NULL,
  status      INTEGER,
  error       TEXT
);
CREATE INDEX attempts_by_delivery ON ${s}.attempts (delivery_id);
-- The Targets page's "last error": the newest failed attempt per emitter.
CREATE INDEX attempts_failed ON ${s}.attempts (emitter, id) WHERE NOT ok;`,
  // Version 4: a fencing token per lease. Every claim makes a new generation, and a mark or a
  // renewal changes the row only under the generation it was claimed with, so an attempt that
  // outlived its lease (its replica was frozen past it) can never settle a lease taken since.
  (s) => `
ALTER TABLE ${s}.deliveries ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0;`,
  // Version 5: the last digest of each tag (tag-state.ts) and the parts of a push held for its
  // tagged push (held-parts.ts).
  (s) => `${tagStateSchema(`${s}.tag_state`)}
${heldPartsSchema(`${s}.held_parts`)}`,
  // Version 6: what each attempt sent and got back (JSON, credentials hidden, bodies cut at 4 KB),
  // whether it was a circuit probe and whether it spent one of the row's attempts; and a note on
  // a delivery row saying why it exists (an operator sent a delivered event again).
  (s) => `
ALTER TABLE ${s}.attempts ADD COLUMN probe BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE ${s}.attempts ADD COLUMN counted BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE ${s}.attempts ADD COLUMN exchanges TEXT;
ALTER TABLE ${s}.deliveries ADD COLUMN note TEXT;`,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Creates or upgrades the schema; refuses one written by a newer gateway rather than misread it. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<void> {
  const s = ident(schema);
  await inTransaction(client, async () => {
    // Transaction-scoped: released by COMMIT or ROLLBACK, even if this process dies meanwhile.
    await client.query(longQuery('SELECT pg_advisory_xact_lock(hashtext($1))', [`registry-gateway migrate ${schema}`]));
    await client.query(longQuery(`CREATE SCHEMA IF NOT EXISTS ${s}`));
    await client.query(longQuery(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version INTEGER NOT NULL)`));
    const { rows } = await client.query<{ version: number }>(longQuery(`SELECT version FROM ${s}.schema_version`));
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `schema ${schema} was written by a newer registry-gateway (version ${current}, this one knows ${POSTGRES_SCHEMA_VERSION})`,
      );
    }
    for (let v = current; v < POSTGRES_SCHEMA_VERSION; v++) await client.query(longQuery(MIGRATIONS[v](s)));
    if (rows.length === 0)
      await client.query(longQuery(`INSERT INTO ${s}.schema_version VALUES ($1)`, [POSTGRES_SCHEMA_VERSION]));
    else await client.query(longQuery(`UPDATE ${s}.schema_version SET version = $1`, [POSTGRES_SCHEMA_VERSION]));
  });
}
