import { readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SQLITE_DIALECT } from '../../../src/delivery/store/dialect';
import { settleRowsStatement } from '../../../src/delivery/store/marks';
import { SqliteStore } from '../../../src/delivery/store/sqlite';
import { makeEvent, settings, tempDir } from '../support';

/**
 * A batch of marks is one statement on both engines (marks.ts). Its cost must not grow with the
 * backlog: each row is found by its id, never by walking the pending rows.
 */
describe('delivery marks', () => {
  it('finds each row of a batch by its id on SQLite, whatever the backlog', async () => {
    const dir = tempDir();
    try {
      const store = SqliteStore.open(settings(dir.dir), { clock: () => 1000 });
      for (let n = 0; n < 4; n++) {
        await store.accept(
          Array.from({ length: 500 }, (_, i) => ({ event: makeEvent(`e-${n}-${i}`), emitters: ['log'] })),
        );
      }
      await store.close();
      const statement = settleRowsStatement(SQLITE_DIALECT, [
        { id: 7, mark: { state: 'delivered', attempts: 1, at: 2000 } },
        { id: 9, mark: { state: 'dead', attempts: 3, at: 2000, error: 'refused' } },
      ]);
      const file = readdirSync(dir.dir).find((f) => f.endsWith('.db'))!;
      const db = new Database(path.join(dir.dir, file), { readonly: true });
      try {
        const plan = db
          .prepare(`EXPLAIN QUERY PLAN ${statement.text}`)
          .all(...statement.params)
          .map((r) => (r as { detail: string }).detail);
        expect(plan.join('\n')).to.match(/SEARCH deliveries USING INTEGER PRIMARY KEY/);
        expect(plan.join('\n')).not.to.match(/(SCAN|SEARCH) deliveries USING (COVERING )?INDEX/);
      } finally {
        db.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
