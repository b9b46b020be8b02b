import type Database from 'better-sqlite3';

/** One SQL statement with its parameters. */
export interface Statement {
  text: string;
  params: unknown[];
}

type Rows = Record<string, unknown>[];

/**
 * Work on the store written once for both engines, as a generator that yields each statement
 * and is handed back its rows. SQLite runs it synchronously inside its accept transaction (a
 * better-sqlite3 transaction cannot span an await), PostgreSQL asynchronously on the client
 * holding its transaction; the logic and the SQL between the two are the same text.
 */
export type Steps<T> = Generator<Statement, T, Rows>;

export function runSync<T>(steps: Steps<T>, exec: (statement: Statement) => Rows): T {
  let next = steps.next();
  while (!next.done) next = steps.next(exec(next.value));
  return next.value;
}

export async function runAsync<T>(steps: Steps<T>, exec: (statement: Statement) => Promise<Rows>): Promise<T> {
  let next = steps.next();
  while (!next.done) next = steps.next(await exec(next.value));
  return next.value;
}

/** SQLite's way to run a statement: prepared once per text; a write answers the rows it RETURNs. */
export function sqliteExec(db: Database.Database): (statement: Statement) => Rows {
  const prepared = new Map<string, Database.Statement<unknown[], unknown>>();
  return ({ text, params }) => {
    let statement = prepared.get(text);
    if (!statement) {
      statement = db.prepare<unknown[], unknown>(text);
      prepared.set(text, statement);
    }
    if (statement.reader) return statement.all(...params) as Rows;
    statement.run(...params);
    return [];
  };
}
