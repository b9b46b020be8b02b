import type Database from 'better-sqlite3';
import { SQLITE_DIALECT } from './dialect';
import { currentVersion, migrationsFrom, SCHEMA_VERSION, type SchemaDialect } from './migrations';

export const SQLITE_SCHEMA_DIALECT: SchemaDialect = {
  ...SQLITE_DIALECT,
  engine: 'sqlite',
  serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  boolean: 'INTEGER',
};

/** The version this gateway writes into `user_version`. */
export const SQLITE_SCHEMA_VERSION = SCHEMA_VERSION;

/** The tables of version 1, as the first gateways wrote them (for upgrade tests). */
export const SQLITE_SCHEMA = migrationsFrom(SQLITE_SCHEMA_DIALECT, 0, 'a new file')[0];

/**
 * Creates or upgrades the file's tables, the version kept in `user_version`. IMMEDIATE: the
 * gateway and the CLI may open a fresh file at the same moment, and the steps and the version
 * they reach are written together or not at all.
 */
export function migrateSqlite(db: Database.Database, file: string): void {
  db.transaction(() => {
    const stored = db.pragma('user_version', { simple: true }) as number;
    for (const step of migrationsFrom(SQLITE_SCHEMA_DIALECT, currentVersion('sqlite', stored), file)) db.exec(step);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
