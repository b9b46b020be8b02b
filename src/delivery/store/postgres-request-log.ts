import type { PostgresDatabase } from './postgres-database';
import { inTransaction } from './postgres-connection';
import type { RequestLogWrite } from './request-log';

/**
 * The request log's writes on PostgreSQL: diagnostics, not acknowledgements, so the commit does
 * not wait for the WAL flush (`synchronous_commit = off` for this transaction only). A crash of
 * the database may lose the last fraction of a second of rows; never an accepted event, whose
 * commits keep the server's setting.
 */
export function postgresRequestLogWrite(db: PostgresDatabase): RequestLogWrite {
  return (statement) =>
    db.withClient((client) =>
      inTransaction(client, async () => {
        await client.query('SET LOCAL synchronous_commit = off');
        await client.query(statement.text, statement.params);
      }),
    );
}
