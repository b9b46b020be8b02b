import { expect } from 'chai';
import { ClaimedAhead } from '../../src/delivery/claimed-ahead';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { makeEvent, settings, tempDir } from './support';

describe('ClaimedAhead', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let claims: number[];

  beforeEach(async () => {
    tmp = tempDir();
    store = SqliteStore.open(settings(tmp.dir));
    const ids = Array.from({ length: 40 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    // One call per event: each is accepted (and due) after the one before.
    for (const id of ids) await store.accept([{ event: makeEvent(id), emitters: ['log'] }]);
    claims = [];
    const claim = store.claim.bind(store);
    store.claim = (emitter, now, limit, options) => {
      claims.push(limit);
      return claim(emitter, now, limit, options);
    };
  });

  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  const eventIds = (rows: { event: { id: string } }[]) => rows.map((r) => r.event.id);

  it('fills the free slots and keeps `concurrency` more rows claimed, soonest first, in one query', async () => {
    const ahead = new ClaimedAhead(store, 'log', 8);
    const started = await ahead.take(8, Date.now());
    expect(eventIds(started)).to.deep.equal(['e00', 'e01', 'e02', 'e03', 'e04', 'e05', 'e06', 'e07']);
    expect(claims).to.deep.equal([16]);
    expect(ahead.size).to.equal(8);
    // Held like rows in flight: nobody else is handed them.
    const others = await store.claim('log', Date.now(), 100);
    expect(eventIds(others)[0]).to.equal('e16');
    expect(others).to.have.length(24);
  });

  it('hands a freed slot a row without a query, and refills once half the rows ahead are used', async () => {
    const ahead = new ClaimedAhead(store, 'log', 8);
    await ahead.take(8, Date.now());
    const next: string[] = [];
    for (let i = 0; i < 4; i++) next.push(...eventIds(await ahead.take(1, Date.now())));
    expect(next).to.deep.equal(['e08', 'e09', 'e10', 'e11']);
    // 16 for the first take; then one query bringing the rows ahead back to 8, when 4 were left.
    expect(claims).to.deep.equal([16, 4]);
    expect(ahead.size).to.equal(8);
    // While rows are plentiful: a query per 4 deliveries at most, not one per delivery.
    const rest: string[] = [];
    for (let i = 0; i < 20; i++) rest.push(...eventIds(await ahead.take(1, Date.now())));
    expect(claims.length).to.be.at.most(2 + 20 / 4);
    // Then to the last row, each handed out once, in order.
    for (let i = 0; i < 10; i++) rest.push(...eventIds(await ahead.take(1, Date.now())));
    expect(rest).to.have.length(28);
    expect(new Set([...next, ...rest]).size).to.equal(32);
    expect(rest[rest.length - 1]).to.equal('e39');
  });

  it('gives every row claimed ahead back, claimable at once', async () => {
    const ahead = new ClaimedAhead(store, 'log', 8);
    await ahead.take(8, Date.now());
    await ahead.giveBack();
    expect(ahead.size).to.equal(0);
    const others = await store.claim('log', Date.now(), 100);
    expect(eventIds(others)[0]).to.equal('e08');
    expect(others).to.have.length(32);
  });

  it('answers what the store has when fewer rows are due than slots', async () => {
    const ahead = new ClaimedAhead(store, 'log', 64);
    expect(await ahead.take(50, Date.now())).to.have.length(40);
    expect(ahead.size).to.equal(0);
    expect(await ahead.take(1, Date.now())).to.deep.equal([]);
  });
});
