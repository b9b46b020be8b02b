import type Database from 'better-sqlite3';
import { sqliteExec } from './steps';

/** Every table the store's shared SQL names. */
export type Table =
  'events' | 'deliveries' | 'attempts' | 'held_parts' | 'targets' | 'dedup_keys' | 'tag_state' | 'windows' | 'requests';

/**
 * What separates the two engines' SQL: how a parameter is written and a table named, and how a
 * list and a boolean are bound. Everything else is the same text on both, so each query of the
 * store is written once, in the file named after its job, and behaves the same on SQLite and
 * PostgreSQL.
 */
export interface Dialect {
  table(name: Table): string;
  /** The placeholder of the n-th parameter, counted from 1. */
  param(n: number): string;
  /** `<column> <in list>` for a list of ids (or, with 'text', of strings) bound as one parameter. */
  inList(placeholder: string, type?: 'bigint' | 'text'): string;
  listValue(values: readonly (number | string)[]): unknown;
  boolValue(value: boolean): unknown;
  /** A field of the JSON text column `column`, as text. */
  jsonText(column: string, field: string): string;
  /**
   * Rows bound as one parameter (`rowsValue`), read as a table `alias` whose columns have the
   * types PostgreSQL needs: a batch of changes is then one statement, whatever its size.
   */
  rowSet(placeholder: string, alias: string, columns: RowColumns): string;
  rowsValue(rows: readonly Record<string, unknown>[]): unknown;
}

/** The columns of a `rowSet`, with their PostgreSQL types (SQLite takes JSON's own). */
export type RowColumns = Readonly<Record<string, 'bigint' | 'integer' | 'text'>>;

export const SQLITE_DIALECT: Dialect = {
  table: (name) => name,
  param: () => '?',
  inList: (p) => `IN (SELECT value FROM json_each(${p}))`,
  listValue: (values) => JSON.stringify(values),
  // better-sqlite3 binds no booleans.
  boolValue: (value) => (value ? 1 : 0),
  jsonText: (column, field) => `json_extract(${column}, '$.${field}')`,
  rowSet: (p, alias, columns) =>
    `(SELECT ${Object.keys(columns)
      .map((c) => `json_extract(value, '$.${c}') AS ${c}`)
      .join(', ')} FROM json_each(${p})) AS ${alias}`,
  rowsValue: (rows) => JSON.stringify(rows),
};

export function postgresDialect(schema: string): Dialect {
  return {
    table: (name) => `${schema}.${name}`,
    param: (n) => `$${n}`,
    inList: (p, type = 'bigint') => `= ANY(${p}::${type}[])`,
    listValue: (values) => values,
    boolValue: (value) => value,
    jsonText: (column, field) => `${column}::jsonb->>'${field}'`,
    rowSet: (p, alias, columns) =>
      `jsonb_to_recordset(${p}::jsonb) AS ${alias}(${Object.entries(columns)
        .map(([c, type]) => `${c} ${type}`)
        .join(', ')})`,
    rowsValue: (rows) => JSON.stringify(rows),
  };
}

/** Runs one statement and returns its rows (a write names what it changed with RETURNING). */
export type RunSql = <R extends object>(text: string, params: unknown[]) => Promise<R[]>;

/** The port the shared queries run over: an engine's dialect and its way to run a statement. */
export interface Sql {
  readonly dialect: Dialect;
  readonly run: RunSql;
}

/** SQLite's runner: the statement runs before this returns, so a caller may wrap it in a synchronous section. */
export function sqliteRunner(db: Database.Database): RunSql {
  const exec = sqliteExec(db);
  return <R extends object>(text: string, params: unknown[]): Promise<R[]> => {
    try {
      return Promise.resolve(exec({ text, params }) as R[]);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
}
