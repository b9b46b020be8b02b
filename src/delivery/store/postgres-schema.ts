import type pg from 'pg';
import { postgresDialect } from './dialect';
import { currentVersion, migrationsFrom, SCHEMA_VERSION, type SchemaDialect } from './migrations';
import { ident, inTransaction, longQuery } from './postgres-connection';

/** The version this gateway writes into `schema_version`. */
export const POSTGRES_SCHEMA_VERSION = SCHEMA_VERSION;

export function postgresSchemaDialect(schema: string): SchemaDialect {
  return { ...postgresDialect(schema), engine: 'postgres', serialKey: 'BIGSERIAL PRIMARY KEY', boolean: 'BOOLEAN' };
}

/**
 * Creates or upgrades the schema, its version kept in a table of its own. Under a transaction-
 * scoped advisory lock (released by COMMIT or ROLLBACK, even if this process dies meanwhile), so
 * replicas starting together migrate once.
 */
export async function migrate(client: pg.ClientBase, schema: string): Promise<void> {
  const s = ident(schema);
  await inTransaction(client, async () => {
    await client.query(longQuery('SELECT pg_advisory_xact_lock(hashtext($1))', [`registry-gateway migrate ${schema}`]));
    await client.query(longQuery(`CREATE SCHEMA IF NOT EXISTS ${s}`));
    await client.query(longQuery(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version INTEGER NOT NULL)`));
    const { rows } = await client.query<{ version: number }>(longQuery(`SELECT version FROM ${s}.schema_version`));
    const from = currentVersion('postgres', rows[0]?.version ?? 0);
    for (const step of migrationsFrom(postgresSchemaDialect(s), from, `schema ${schema}`)) {
      if (step) await client.query(longQuery(step));
    }
    if (rows.length === 0)
      await client.query(longQuery(`INSERT INTO ${s}.schema_version VALUES ($1)`, [SCHEMA_VERSION]));
    else await client.query(longQuery(`UPDATE ${s}.schema_version SET version = $1`, [SCHEMA_VERSION]));
  });
}
