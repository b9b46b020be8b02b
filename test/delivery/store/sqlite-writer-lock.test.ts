import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { WriterLock } from '../../../src/delivery/store/sqlite-writer-lock';

/**
 * A thread that takes the lock, says so, and keeps it until told to let go (or never, when
 * `exitHolding`: it ends with the lock still taken, as a worker cut short mid-write does).
 */
function holder(shared: SharedArrayBuffer, exitHolding = false): Worker {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const word = new Int32Array(workerData.shared, 0, 1);
    const me = require('node:worker_threads').threadId + 1;
    while (Atomics.compareExchange(word, 0, 0, me) !== 0) Atomics.wait(word, 0, Atomics.load(word, 0), 50);
    parentPort.postMessage('holding');
    if (workerData.exitHolding) process.exit(0);
    const done = new Int32Array(workerData.shared.byteLength >= 8 ? workerData.shared : new SharedArrayBuffer(8), 4, 1);
    parentPort.once('message', () => { Atomics.store(done, 0, 1); Atomics.store(word, 0, 0); Atomics.notify(word, 0); parentPort.postMessage('released'); });
  `;
  return new Worker(source, { eval: true, workerData: { shared, exitHolding } });
}

const said = (worker: Worker, what: string) =>
  new Promise<void>((resolve) => worker.on('message', (m) => m === what && resolve()));

describe('SQLite writer lock', () => {
  it('runs a write at once when no other thread writes, and again within the same thread', () => {
    const lock = new WriterLock(WriterLock.memory());
    const order: string[] = [];
    void lock.hold(() => {
      order.push('outer');
      void lock.hold(() => order.push('inner'));
    });
    expect(order).to.deep.equal(['outer', 'inner']);
  });

  it('waits while another thread writes and goes on the moment it lets go', async function () {
    this.timeout(10_000);
    // The lock's word, then a word the other thread sets just before it lets go.
    const shared = new SharedArrayBuffer(8);
    const worker = holder(shared);
    try {
      await said(worker, 'holding');
      const lock = new WriterLock(shared, 5000);
      const otherDone = new Int32Array(shared, 4, 1);
      // The other thread lets go only when asked; the ask is posted before this thread blocks.
      const released = said(worker, 'released');
      worker.postMessage('release');
      const started = Date.now();
      expect(lock.hold(() => Atomics.load(otherDone, 0))).to.equal(1);
      expect(Date.now() - started).to.be.below(4000);
      await released;
    } finally {
      await worker.terminate();
    }
  });

  it('answers SQLITE_BUSY (a 503 upstream) when another thread holds it past the timeout', async function () {
    this.timeout(10_000);
    const shared = WriterLock.memory();
    const worker = holder(shared);
    try {
      await said(worker, 'holding');
      const lock = new WriterLock(shared, 100);
      let ran = false;
      expect(() => lock.hold(() => (ran = true)))
        .to.throw(Database.SqliteError)
        .with.property('code', 'SQLITE_BUSY');
      expect(ran).to.equal(false);
    } finally {
      await worker.terminate();
    }
  });

  it('is freed when the thread holding it is gone, and only then', async function () {
    this.timeout(10_000);
    const shared = WriterLock.memory();
    const worker = holder(shared, true);
    // Read while it runs: a worker that has exited answers -1.
    const threadId = worker.threadId;
    const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    await said(worker, 'holding');
    await gone;
    // Another thread id than the holder's frees nothing.
    WriterLock.abandon(shared, threadId + 1000);
    expect(() => new WriterLock(shared, 50).hold(() => undefined)).to.throw(Database.SqliteError);
    WriterLock.abandon(shared, threadId);
    expect(new WriterLock(shared, 50).hold(() => 'written')).to.equal('written');
  });

  it('holds an async write until it settles, and lets go when it fails', async () => {
    const shared = WriterLock.memory();
    const lock = new WriterLock(shared, 50);
    const word = new Int32Array(shared, 0, 1);
    let finish!: () => void;
    const pending = lock.hold(() => new Promise<void>((resolve) => (finish = resolve)));
    expect(Atomics.load(word, 0)).to.not.equal(0);
    finish();
    await pending;
    expect(Atomics.load(word, 0)).to.equal(0);
    await lock
      .hold(() => Promise.reject(new Error('no room')))
      .then(
        () => expect.fail('should have failed'),
        (err: Error) => expect(err.message).to.equal('no room'),
      );
    expect(Atomics.load(word, 0)).to.equal(0);
    expect(() =>
      lock.hold(() => {
        throw new Error('bad statement');
      }),
    ).to.throw('bad statement');
    expect(Atomics.load(word, 0)).to.equal(0);
  });
});
