import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { WriterLock } from '../../../src/delivery/store/sqlite-writer-lock';

/**
 * A thread that takes the lock, says so, and keeps it until told to let go (or never, when
 * `exitHolding`: it ends with the lock still taken, as a worker cut short mid-write does).
 */
function holder(shared: SharedArrayBuffer, exitHolding = false, done = new SharedArrayBuffer(4)): Worker {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const word = new Int32Array(workerData.shared, 0, 1);
    const me = require('node:worker_threads').threadId + 1;
    while (Atomics.compareExchange(word, 0, 0, me) !== 0) Atomics.wait(word, 0, Atomics.load(word, 0), 50);
    parentPort.postMessage('holding');
    if (workerData.exitHolding) process.exit(0);
    const done = new Int32Array(workerData.done, 0, 1);
    parentPort.once('message', () => { Atomics.store(done, 0, 1); Atomics.store(word, 0, 0); Atomics.notify(word, 0); parentPort.postMessage('released'); });
  `;
  return new Worker(source, { eval: true, workerData: { shared, exitHolding, done } });
}

/**
 * A thread with a WriterLock of its own on `shared` that, when told, takes the lock (blocking, as
 * the listener does), appends `name` to `order` and lets go: `order` is a shared list of names
 * (slot 0 is its length), so the test sees in which order the threads wrote.
 */
function writer(shared: SharedArrayBuffer, order: SharedArrayBuffer, name: number): Worker {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { WriterLock } = require(${JSON.stringify(path.resolve(__dirname, '../../../src/delivery/store/sqlite-writer-lock.ts'))});
    const lock = new WriterLock(workerData.shared, 10000);
    const order = new Int32Array(workerData.order);
    parentPort.on('message', () => {
      lock.hold(() => Atomics.store(order, 1 + Atomics.add(order, 0, 1), workerData.name));
      parentPort.postMessage('wrote');
    });
  `;
  return new Worker(source, { eval: true, execArgv: ['--require', 'tsx/cjs'], workerData: { shared, order, name } });
}

/** Appends `name` to the shared list `order`. */
function append(order: SharedArrayBuffer, name: number): void {
  const words = new Int32Array(order);
  Atomics.store(words, 1 + Atomics.add(words, 0, 1), name);
}

/**
 * Takes `lock` in this thread (running `work` first), asks `other` to write, and resolves once
 * `other` waits for the lock: with the function that lets go of it.
 */
async function holdWhileOtherWaits(
  lock: WriterLock,
  shared: SharedArrayBuffer,
  other: Worker,
  work: () => void = () => undefined,
): Promise<() => Promise<void>> {
  let finish!: () => void;
  const held = lock.hold(() => {
    work();
    return new Promise<void>((resolve) => (finish = resolve));
  });
  other.postMessage('write');
  const waiter = new Int32Array(shared, 4, 1);
  while (Atomics.load(waiter, 0) !== other.threadId + 1) await new Promise((resolve) => setTimeout(resolve, 1));
  return async () => {
    finish();
    await held;
  };
}

/** The names in `order`, in the order they were written. */
const written = (order: SharedArrayBuffer) => {
  const words = new Int32Array(order);
  return [...words.slice(1, 1 + Atomics.load(words, 0))];
};

const said = (worker: Worker, what: string) =>
  new Promise<void>((resolve) => worker.on('message', (m) => m === what && resolve()));

/** Runs `test` while another thread (`holder`) holds the lock, and ends that thread after. */
async function whileHeld(
  test: (held: { shared: SharedArrayBuffer; worker: Worker; done: SharedArrayBuffer }) => Promise<void> | void,
): Promise<void> {
  const shared = WriterLock.memory();
  const done = new SharedArrayBuffer(4);
  const worker = holder(shared, false, done);
  try {
    await said(worker, 'holding');
    await test({ shared, worker, done });
  } finally {
    await worker.terminate();
  }
}

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
    await whileHeld(async ({ shared, worker, done }) => {
      const lock = new WriterLock(shared, 5000);
      // A word the other thread sets just before it lets go.
      const otherDone = new Int32Array(done, 0, 1);
      // The other thread lets go only when asked; the ask is posted before this thread blocks.
      const released = said(worker, 'released');
      worker.postMessage('release');
      const started = Date.now();
      expect(lock.hold(() => Atomics.load(otherDone, 0))).to.equal(1);
      expect(Date.now() - started).to.be.below(4000);
      await released;
    });
  });

  it('answers SQLITE_BUSY (a 503 upstream) when another thread holds it past the timeout', async function () {
    this.timeout(10_000);
    await whileHeld(({ shared }) => {
      const lock = new WriterLock(shared, 100);
      let ran = false;
      expect(() => lock.hold(() => (ran = true)))
        .to.throw(Database.SqliteError)
        .with.property('code', 'SQLITE_BUSY');
      expect(ran).to.equal(false);
    });
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

  it('waits for the lock without blocking the event loop when asked to (holdAsync)', async function () {
    this.timeout(10_000);
    await whileHeld(async ({ shared, worker }) => {
      const lock = new WriterLock(shared, 5000);
      const events: string[] = [];
      const write = lock.holdAsync(() => events.push('wrote'));
      // The loop goes on while the other thread holds the lock: a timer fires, then the write runs.
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push('timer');
      const released = said(worker, 'released');
      worker.postMessage('release');
      await write;
      await released;
      expect(events).to.deep.equal(['timer', 'wrote']);
    });
  });

  it('lets a thread that waits write before the thread that wrote last writes again', async function () {
    this.timeout(20_000);
    const shared = WriterLock.memory();
    const order = new SharedArrayBuffer(4 * 8);
    const other = writer(shared, order, 2);
    // A courtesy far longer than the other thread needs to wake, so the order is certain.
    const lock = new WriterLock(shared, 10_000, 5_000);
    try {
      const otherWrote = said(other, 'wrote');
      const letGo = await holdWhileOtherWaits(lock, shared, other, () => append(order, 1));
      await letGo();
      await lock.holdAsync(() => append(order, 1));
      await otherWrote;
      expect(written(order)).to.deep.equal([1, 2, 1]);
    } finally {
      await other.terminate();
    }
  });

  it('gives way to no thread that is gone', async function () {
    this.timeout(20_000);
    const shared = WriterLock.memory();
    const other = writer(shared, new SharedArrayBuffer(4 * 8), 2);
    const lock = new WriterLock(shared, 10_000, 60_000);
    const letGo = await holdWhileOtherWaits(lock, shared, other);
    // Cut short while it waits, as a worker that crashes is.
    const otherId = other.threadId;
    await other.terminate();
    WriterLock.abandon(shared, otherId);
    await letGo();
    // With a courtesy of a minute and mocha's timeout of 20 s, this only passes if none is given.
    expect(await lock.holdAsync(() => 'written')).to.equal('written');
  });
});
