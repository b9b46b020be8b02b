import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SqliteStore, STORE_FILE } from '../../../src/delivery/store/sqlite';
import { SQLITE_SCHEMA, SQLITE_SCHEMA_VERSION } from '../../../src/delivery/store/sqlite-schema';
import type { DeliverySettings } from '../../../src/delivery/types';
import { UnavailableError } from '../../../src/model/errors';
import { makeEvent, settings, tempDir } from '../support';
import { waitFor } from '../../helpers/wait';
import { rows, storeBehaviour } from './behaviour';
import { expectLegacyRowsKept, legacyDdl, legacyRows } from './legacy-schema';

let tmp: ReturnType<typeof tempDir> | undefined;

storeBehaviour({
  name: 'sqlite',
  fresh: () => {
    tmp?.cleanup();
    tmp = tempDir();
    return Promise.resolve();
  },
  open: (clock, overrides, metrics, options) =>
    Promise.resolve(SqliteStore.open(settings(tmp!.dir, overrides), { clock, metrics, ...options })),
});

after(() => tmp?.cleanup());

describe('SQLite store', () => {
  let dir: ReturnType<typeof tempDir>;
  let opened: SqliteStore[];
  const now = Date.parse('2024-05-01T12:00:00Z');

  function open(overrides: Partial<DeliverySettings> = {}): SqliteStore {
    const store = SqliteStore.open(settings(dir.dir, overrides), { clock: () => now });
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    dir = tempDir();
    opened = [];
  });

  afterEach(async () => {
    for (const store of opened) await store.close();
    dir.cleanup();
  });

  it('upgrades a version 1 file in place: the tag of each stored event becomes filterable', async () => {
    const file = path.join(dir.dir, STORE_FILE);
    const old = new Database(file);
    old.exec(SQLITE_SCHEMA);
    old.pragma('user_version = 1');
    old
      .prepare(
        `INSERT INTO events (source, id, provider, type, registry, repo, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        'brigade.sh/acr',
        'old',
        'acr',
        'push',
        'myreg.azurecr.io',
        'library/app',
        JSON.stringify(makeEvent('old')),
        now,
      );
    old.close();

    const store = open();
    const [listed] = (await store.listEvents({ tag: 'v1' })).events;
    expect(listed.id).to.equal('old');
    // Version 7's attempt columns are there on an upgraded file too.
    const probe = { deliveryId: 1, emitter: 'log', attempt: 0, startedAt: now, durationMs: 1, ok: false, probe: true };
    await store.recordAttempt({ ...probe, counted: false, error: 'down' });
    await store.close();
    // Opening again finds everything in place and changes nothing.
    expect((await open().listEvents({ tag: 'v1' })).events).to.have.length(1);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).to.equal(SQLITE_SCHEMA_VERSION);
    expect(check.prepare('SELECT probe, counted, error FROM attempts').all()).to.deep.equal([
      { probe: 1, counted: 0, error: 'down' },
    ]);
    expect(check.prepare(`SELECT name FROM pragma_table_info('deliveries') WHERE name = 'note'`).all()).to.have.length(
      1,
    );
    check.close();
  });

  it('opens a file at the schema main wrote (user_version 4, the old numbering) and upgrades it keeping every row', async () => {
    const file = path.join(dir.dir, STORE_FILE);
    const old = new Database(file);
    old.exec(legacyDdl('sqlite-v4.sql'));
    old.exec(legacyRows((table) => table));
    old.close();
    await expectLegacyRowsKept(open());
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).to.equal(SQLITE_SCHEMA_VERSION);
    check.close();
  });

  it('creates the directory and uses WAL with full fsync', () => {
    const nested = path.join(dir.dir, 'a', 'b');
    const store = SqliteStore.open(settings(nested));
    opened.push(store);
    expect(store.file).to.equal(path.join(nested, STORE_FILE));
    // synchronous is per connection: read the store's own (2 = FULL, an fsync per commit).
    const own = (store as unknown as { db: Database.Database }).db;
    expect(own.pragma('synchronous', { simple: true })).to.equal(2);
    const db = new Database(store.file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
    } finally {
      db.close();
    }
  });

  it('keeps an acknowledged event through kill -9 of the process that stored it', async function () {
    this.timeout(60_000);
    const script = `
      const { SqliteStore } = require(${JSON.stringify(path.resolve(__dirname, '../../../src/delivery/store/sqlite.ts'))});
      const store = SqliteStore.open(${JSON.stringify(settings(dir.dir))});
      const event = { id: 'killed', provider: 'acr', source: 'brigade.sh/acr', type: 'push',
        registry: 'r.example.com', repo: 'app', time: '2024-05-01T12:00:00Z', payload: {} };
      store.accept([{ event, emitters: ['log'] }]).then(() => process.kill(process.pid, 'SIGKILL'));
    `;
    let signal: string | null = null;
    try {
      execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], {
        cwd: path.resolve(__dirname, '../../..'),
        stdio: 'pipe',
      });
    } catch (err) {
      signal = (err as { signal: string | null }).signal;
    }
    expect(signal).to.equal('SIGKILL');
    const all = await rows(open());
    expect(all.map((r) => [r.eventId, r.emitter, r.state])).to.deep.equal([['killed', 'log', 'pending']]);
  });

  it('counts pending rows at most once a second, and afresh before refusing anyone', async () => {
    const store = open({ maxPending: 2 });
    const counting = (store as unknown as { acceptor: { s: { countPending: { get(): number } } } }).acceptor.s
      .countPending;
    const get = counting.get.bind(counting);
    let counts = 0;
    counting.get = () => {
      counts++;
      return get();
    };
    await store.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
    await store.accept([{ event: makeEvent('b'), emitters: ['log'] }]);
    expect(counts).to.equal(1);
    // Delivered within the same second: the estimate (2) says full, the count says 1.
    const [a] = await store.claim('log', now, 1);
    await store.markDelivered(a.id, 1);
    const [c] = await store.accept([{ event: makeEvent('c'), emitters: ['log'] }]);
    expect(c.duplicate).to.equal(false);
    expect(counts).to.equal(2);
    const err = await store.accept([{ event: makeEvent('d'), emitters: ['log'] }]).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnavailableError);
    expect((err as Error).message).to.match(/2 pending, limit 2/);
  });

  it('refuses only the over-limit call of a commit group, all of its events together', async () => {
    const store = open({ maxPending: 1 });
    const [first, second] = await Promise.allSettled([
      store.accept([{ event: makeEvent('a'), emitters: ['log'] }]),
      store.accept([
        { event: makeEvent('b'), emitters: ['log'] },
        { event: makeEvent('c'), emitters: ['log'] },
      ]),
    ]);
    expect(first.status).to.equal('fulfilled');
    expect(second.status).to.equal('rejected');
    expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['a']);
  });

  it('refuses new events within its byte budget, still delivers and prunes when full, then takes events again', async function () {
    this.timeout(20_000);
    const store = open({ maxStoreBytes: 512 * 1024 });
    const own = (store as unknown as { db: Database.Database }).db;
    expect(own.pragma('max_page_count', { simple: true })).to.equal(
      (512 * 1024) / (own.pragma('page_size', { simple: true }) as number),
    );
    expect(own.pragma('journal_size_limit', { simple: true })).to.equal(64 * 1024);
    const acked: string[] = [];
    let refusal: unknown;
    for (let i = 0; i < 500 && !refusal; i++) {
      const event = makeEvent(`big-${i}`, { payload: { blob: 'x'.repeat(8 * 1024) } });
      await store.accept([{ event, emitters: ['log', 'brigade'] }]).then(
        () => acked.push(event.id),
        (err) => (refusal = err),
      );
    }
    expect(refusal).to.be.instanceOf(UnavailableError);
    expect((refusal as UnavailableError).retryAfterSeconds).to.equal(30);
    expect((refusal as Error).message).to.match(/store is full/);
    expect(store.notReadyReason()).to.match(/store is full/);
    expect(acked.length).to.be.greaterThan(10);
    // A sender's retry of an acked event is still answered: it stores nothing.
    expect((await store.accept([{ event: makeEvent(acked[0]), emitters: ['log'] }]))[0].duplicate).to.equal(true);

    // Full, yet every acked event is delivered and marked (the reserve is for exactly this).
    for (const emitter of ['log', 'brigade']) {
      for (let due = await store.claim(emitter, now, 50); due.length > 0; due = await store.claim(emitter, now, 50)) {
        for (const d of due) expect(await store.markDelivered(d.id, 1)).to.equal(true);
      }
    }
    expect((await rows(store, { state: 'delivered' })).map((r) => r.eventId)).to.have.length(acked.length * 2);

    // Without waiting out deliveredRetentionSeconds, it makes room and takes events by itself.
    await waitFor('the store taking events again', () => store.notReadyReason() === undefined);
    const [fresh] = await store.accept([{ event: makeEvent('after'), emitters: ['log'] }]);
    expect(fresh.duplicate).to.equal(false);
  });

  it('refuses with 503 rather than acknowledging when the disk is full', async () => {
    const store = open();
    await store.accept([{ event: makeEvent('small'), emitters: ['log'] }]);
    // Cap the file at its current size: the next write needing a new page gets SQLITE_FULL,
    // exactly what a full disk produces.
    const db = (store as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);

    const big = makeEvent('big', { payload: { blob: 'x'.repeat(256 * 1024) } });
    const [refused, alongside] = await Promise.allSettled([
      store.accept([{ event: big, emitters: ['log'] }]),
      store.accept([{ event: makeEvent('same-group'), emitters: ['log'] }]),
    ]);
    expect(refused.status).to.equal('rejected');
    expect((refused as PromiseRejectedResult).reason).to.be.instanceOf(UnavailableError);
    expect((refused as PromiseRejectedResult).reason.message).to.match(/SQLITE_FULL/);
    // Its commit group failed as a whole, so nothing in it may be acknowledged.
    expect(alongside.status).to.equal('rejected');
    expect((await rows(store)).map((r) => r.eventId)).to.deep.equal(['small']);

    db.pragma('max_page_count = 1073741823');
    const [retried] = await store.accept([{ event: big, emitters: ['log'] }]);
    expect(retried.duplicate).to.equal(false);
  });

  it('hands a row claimed by a process that died to the next process at once', async () => {
    const first = open();
    await first.accept([{ event: makeEvent('a'), emitters: ['log'] }]);
    expect(await first.claim('log', now, 10)).to.have.length(1);
    // Only one process delivers from a file: its leases live and die with it.
    const second = open();
    expect((await second.claim('log', now, 10)).map((d) => d.event.id)).to.deep.equal(['a']);
  });
});
