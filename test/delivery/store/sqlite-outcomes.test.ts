import Database from 'better-sqlite3';
import { expect } from 'chai';
import { OutcomeWriter } from '../../../src/delivery/store/sqlite-outcomes';
import { SqliteStore } from '../../../src/delivery/store/sqlite';
import { makeEvent, settings, tempDir } from '../support';

/**
 * Delivery outcomes on SQLite are written per loop turn, in one transaction (sqlite-outcomes.ts):
 * what a caller is answered must still be what is in the file.
 */
describe('SQLite delivery outcomes', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  let dir: ReturnType<typeof tempDir>;
  const open = () => SqliteStore.open(settings(dir.dir), { clock: () => now });

  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  async function withDue(store: SqliteStore, ids: string[]) {
    await store.accept(ids.map((id) => ({ event: makeEvent(id), emitters: ['log'] })));
    return store.claim('log', now, ids.length);
  }

  it('answers each caller with its own statement, once the turn is written', async () => {
    const store = open();
    try {
      const [a, b] = await withDue(store, ['a', 'b']);
      await store.markDelivered(a.id, 1);
      // Same turn: `a` is no longer pending, so its second mark changes nothing; `b`'s does.
      const answers = await Promise.all([store.markDelivered(a.id, 2), store.markDelivered(b.id, 1)]);
      expect(answers).to.deep.equal([false, true]);
      const states = (await store.list()).rows.map((r) => [r.eventId, r.state, r.attempts]);
      expect(states).to.have.deep.members([
        ['a', 'delivered', 1],
        ['b', 'delivered', 1],
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps a row claimed until its mark is written, so it is never handed out twice', async () => {
    const store = open();
    try {
      const [row] = await withDue(store, ['a']);
      const marked = store.markRetry(row.id, 1, now, 'target said 503');
      expect(await store.claim('log', now, 10)).to.deep.equal([]);
      expect(await marked).to.equal(true);
      const [again] = await store.claim('log', now, 10);
      expect(again).to.include({ id: row.id, attempts: 1 });
    } finally {
      await store.close();
    }
  });

  it('writes the outcomes still queued when the store closes', async () => {
    const store = open();
    const [row] = await withDue(store, ['a']);
    const marked = store.markDelivered(row.id, 1);
    await store.close();
    expect(await marked).to.equal(true);
    const reopened = open();
    try {
      expect((await reopened.list()).rows.map((r) => r.state)).to.deep.equal(['delivered']);
    } finally {
      await reopened.close();
    }
  });
  it('writes the outcomes that arrive while it waits for the writer lock in the write it waits to make', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE outcomes (name TEXT)');
    let letGo!: () => void;
    const lockFree = new Promise<void>((resolve) => (letGo = resolve));
    // Rows in the table after each write: the first write holds every outcome queued by then.
    const rowsAfterEachWrite: number[] = [];
    const writer = new OutcomeWriter(db, async (work) => {
      await lockFree;
      const result = work();
      rowsAfterEachWrite.push((db.prepare('SELECT count(*) AS n FROM outcomes').get() as { n: number }).n);
      return result;
    });
    const insert = (name: string) => () => db.prepare('INSERT INTO outcomes VALUES (?)').run(name).changes;
    const first = writer.add(insert('a'));
    // The turn's write has started and waits for the lock; the next outcome comes meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    const second = writer.add(insert('b'));
    await new Promise((resolve) => setImmediate(resolve));
    letGo();
    expect(await Promise.all([first, second])).to.deep.equal([1, 1]);
    expect(rowsAfterEachWrite[0]).to.equal(2);
    db.close();
  });
});
