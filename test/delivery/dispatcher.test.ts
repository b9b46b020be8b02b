import { expect } from 'chai';
import { Dispatcher, type DispatcherOptions } from '../../src/delivery/dispatcher';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import type { DeliverySettings } from '../../src/delivery/types';
import { DeliveryError, type Emitter } from '../../src/emitters/types';
import { Metrics } from '../../src/observability/metrics';
import { FlakyEmitter, hang, permanent, retryable, succeed } from '../fakes/flaky-emitter';
import { capturingLogger, makeEvent, settings, tempDir } from './support';
import { waitFor } from '../helpers/wait';

describe('Dispatcher', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let dispatchers: Dispatcher[];
  let metrics: Metrics;
  let deliverySettings: DeliverySettings;

  function setup(overrides: Partial<DeliverySettings> = {}, clock?: () => number): void {
    deliverySettings = settings(tmp.dir, overrides);
    store = SqliteStore.open(deliverySettings, { metrics, clock });
  }

  function dispatcher(emitters: Emitter[], options: DispatcherOptions = {}): Dispatcher {
    const d = new Dispatcher(store, emitters, deliverySettings, { metrics, pollIntervalMs: 50, ...options });
    dispatchers.push(d);
    d.start();
    return d;
  }

  async function accept(ids: string[], emitters: string[], d?: Dispatcher): Promise<void> {
    await store.accept(ids.map((id) => ({ event: makeEvent(id), emitters })));
    d?.notify(emitters);
  }

  async function row(eventId: string, emitter: string) {
    const [found] = (await store.list({ eventId, emitter })).rows;
    if (!found) throw new Error(`no delivery row for ${eventId} → ${emitter}`);
    return found;
  }

  async function deliveries(emitter: string, outcome: string): Promise<number> {
    const { values } = await metrics.deliveries.get();
    return values.find((v) => v.labels.emitter === emitter && v.labels.outcome === outcome)?.value ?? 0;
  }

  beforeEach(() => {
    tmp = tempDir();
    dispatchers = [];
    metrics = new Metrics();
  });

  afterEach(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(1000)));
    await store.close();
    tmp.cleanup();
  });

  it('delivers an accepted event and records success', async () => {
    setup();
    const log = new FlakyEmitter('log');
    const d = dispatcher([log]);
    await accept(['e1'], ['log'], d);

    await waitFor('delivery', async () => (await row('e1', 'log')).state === 'delivered');
    expect(log.delivered.map((e) => e.id)).to.deep.equal(['e1']);
    expect(log.delivered[0]).to.deep.equal(makeEvent('e1'));
    expect(await row('e1', 'log')).to.include({ attempts: 1 });
    expect(await deliveries('log', 'succeeded')).to.equal(1);
    const latency = (await metrics.deliveryLatency.get()).values.find(
      (v) => v.metricName?.endsWith('_count') && v.labels.emitter === 'log',
    );
    expect(latency?.value).to.equal(1);
  });

  it('writes every attempt to the history: its number, outcome, status and error', async () => {
    setup();
    const knative = new FlakyEmitter('knative', [
      retryable('HTTP 503', 503),
      { kind: 'throw', error: new Error('socket hang up') },
    ]);
    const d = dispatcher([knative]);
    await accept(['e1'], ['knative'], d);
    await waitFor('delivery', async () => (await row('e1', 'knative')).state === 'delivered');
    const [listed] = (await store.listEvents()).events;
    const seen = async () => (await store.eventDetail(listed.seq))!.attempts;
    await waitFor('three attempts in the history', async () => (await seen()).length === 3);
    const attempts = await seen();
    expect(attempts.map((a) => [a.attempt, a.ok, a.status, a.error])).to.deep.equal([
      [1, false, 503, 'HTTP 503'],
      [2, false, undefined, 'socket hang up'],
      [3, true, undefined, undefined],
    ]);
    for (const a of attempts) expect(a.durationMs).to.be.at.least(0);
    expect(attempts[0].startedAt).to.be.at.most(attempts[2].startedAt);
  });

  it('delivers what a previous run left pending as soon as it starts', async () => {
    setup();
    await accept(['left-over'], ['log']);
    const log = new FlakyEmitter('log');
    dispatcher([log], { pollIntervalMs: 60_000 });
    await waitFor('delivery', () => log.delivered.length === 1);
  });

  it('retries retryable failures, including plain exceptions, until the target takes the event', async () => {
    setup();
    const knative = new FlakyEmitter('knative', [
      retryable('HTTP 503', 503),
      { kind: 'throw', error: new Error('socket hang up') },
    ]);
    const d = dispatcher([knative]);
    await accept(['e1'], ['knative'], d);

    await waitFor('delivery', async () => (await row('e1', 'knative')).state === 'delivered');
    expect(knative.calls).to.have.length(3);
    expect((await row('e1', 'knative')).attempts).to.equal(3);
    expect(await deliveries('knative', 'retried')).to.equal(2);
    expect(await deliveries('knative', 'succeeded')).to.equal(1);
  });

  it('schedules the retry with full-jitter backoff, keeps the error, and retries when it is due', async () => {
    const start = Date.parse('2024-05-01T12:00:00Z');
    let now = start;
    const clock = () => now;
    setup({ initialBackoffSeconds: 60, maxBackoffSeconds: 600 }, clock);
    const brigade = new FlakyEmitter('brigade', [retryable('HTTP 502', 502)]);
    const d = dispatcher([brigade], { clock, random: () => 0.5 });
    await accept(['e1'], ['brigade'], d);

    await waitFor('first attempt recorded', async () => (await row('e1', 'brigade')).attempts === 1);
    // Ceiling after the first failure is the initial backoff; half of it with random() = 0.5.
    expect(await row('e1', 'brigade')).to.include({
      state: 'pending',
      nextAttemptAt: start + 30_000,
      lastError: 'HTTP 502',
    });
    // A millisecond before the row is due, a look at the store finds nothing to do.
    now = start + 29_999;
    d.notify(['brigade']);
    await d.idle();
    expect(brigade.calls).to.have.length(1);
    // Once it is due, the next look delivers it.
    now = start + 30_000;
    d.notify(['brigade']);
    await waitFor('the retry', async () => (await row('e1', 'brigade')).state === 'delivered');
    expect(brigade.calls).to.have.length(2);
  });

  for (const [asked, expected, what] of [
    [
      90_000,
      (now0) => now0 + 90_000,
      'waits as long as the target asks (Retry-After) when that is past the jittered delay',
    ],
    [3_600_000, (now0) => now0 + 600_000, 'caps a Retry-After at maxBackoffSeconds'],
    [1_000, (now0) => now0 + 30_000, 'keeps the jittered delay when the Retry-After is shorter'],
  ] as [number, (now: number) => number, string][]) {
    it(what, async () => {
      const now = Date.parse('2024-05-01T12:00:00Z');
      const clock = () => now;
      setup({ initialBackoffSeconds: 60, maxBackoffSeconds: 600 }, clock);
      const error = new DeliveryError('webhook/ci answered 429', true, 429, asked);
      const hook = new FlakyEmitter('webhook/ci', [{ kind: 'throw', error }]);
      const d = dispatcher([hook], { clock, random: () => 0.5 });
      await accept(['e1'], ['webhook/ci'], d);

      await waitFor('first attempt recorded', async () => (await row('e1', 'webhook/ci')).attempts === 1);
      expect(await row('e1', 'webhook/ci')).to.include({ state: 'pending', nextAttemptAt: expected(now) });
    });
  }

  it('dead-letters a permanent failure at once with its error', async () => {
    setup();
    const knative = new FlakyEmitter('knative', [permanent('HTTP 400: invalid CloudEvent', 400)]);
    const d = dispatcher([knative]);
    await accept(['e1'], ['knative'], d);

    await waitFor('dead letter', async () => (await row('e1', 'knative')).state === 'dead');
    expect(await row('e1', 'knative')).to.include({ attempts: 1, lastError: 'HTTP 400: invalid CloudEvent' });
    expect(knative.calls).to.have.length(1);
    expect(await deliveries('knative', 'dead_lettered')).to.equal(1);
  });

  it('dead-letters after maxAttempts retryable failures, naming the last error', async () => {
    setup({ maxAttempts: 3 });
    const brigade = new FlakyEmitter('brigade', [retryable('HTTP 500'), retryable('HTTP 502')], retryable('ETIMEDOUT'));
    const d = dispatcher([brigade]);
    await accept(['e1'], ['brigade'], d);

    await waitFor('dead letter', async () => (await row('e1', 'brigade')).state === 'dead');
    expect(await row('e1', 'brigade')).to.include({ attempts: 3, lastError: 'exhausted after 3 attempts: ETIMEDOUT' });
    expect(brigade.calls).to.have.length(3);
    expect(await deliveries('brigade', 'retried')).to.equal(2);
    expect(await deliveries('brigade', 'dead_lettered')).to.equal(1);
  });

  it('delivers a replayed dead letter once the target is fixed, even when another process replays it', async () => {
    setup({ maxAttempts: 1 });
    const brigade = new FlakyEmitter('brigade', [], retryable('HTTP 503'));
    const d = dispatcher([brigade], { pollIntervalMs: 100 });
    await accept(['e1'], ['brigade'], d);
    await waitFor('dead letter', async () => (await row('e1', 'brigade')).state === 'dead');

    brigade.otherwise = succeed;
    const cli = SqliteStore.open(deliverySettings);
    try {
      expect(await cli.replay({ emitter: 'brigade' })).to.equal(1);
    } finally {
      await cli.close();
    }
    // No notify(): only the poll can find it.
    await waitFor('replayed delivery', async () => (await row('e1', 'brigade')).state === 'delivered');
    expect(brigade.delivered.map((e) => e.id)).to.deep.equal(['e1']);
  });

  it('keeps delivering to one emitter while another hangs', async () => {
    setup({ concurrency: 2 });
    const slow = new FlakyEmitter('slow', [], hang);
    const fast = new FlakyEmitter('fast');
    const d = dispatcher([slow, fast]);
    const ids = Array.from({ length: 10 }, (_, i) => `e${i}`);
    await accept(ids, ['slow', 'fast'], d);

    await waitFor('fast deliveries', () => fast.delivered.length === 10);
    expect(slow.hanging).to.equal(2);
    expect(slow.delivered).to.have.length(0);
    expect((await store.counts()).find((c) => c.emitter === 'slow')?.pending).to.equal(10);

    slow.otherwise = succeed;
    slow.release();
    await waitFor('slow deliveries', () => slow.delivered.length === 10);
  });

  it('never has more than `concurrency` attempts in flight per emitter', async () => {
    setup({ concurrency: 3 });
    const log = new FlakyEmitter('log');
    const d = dispatcher([log]);
    await accept(
      Array.from({ length: 20 }, (_, i) => `e${i}`),
      ['log'],
      d,
    );
    await waitFor('deliveries', () => log.delivered.length === 20);
    expect(log.maxInFlight).to.equal(3);
    expect(new Set(log.delivered.map((e) => e.id)).size).to.equal(20);
  });

  it('stop() waits for attempts in flight and takes no new work', async () => {
    setup();
    const log = new FlakyEmitter('log', [hang, hang]);
    const d = dispatcher([log]);
    await accept(['a', 'b'], ['log'], d);
    await waitFor('attempts in flight', () => log.hanging === 2);

    let unfinished: number | undefined;
    const stopping = d.stop(30_000).then((n) => {
      unfinished = n;
    });
    // Stored after stop(): it must stay pending. The store's round trip also gives a stop()
    // that does not wait for the hanging attempts every chance to resolve early.
    await accept(['c'], ['log'], d);
    expect(unfinished).to.equal(undefined);

    log.release();
    await stopping;
    // 0 and not 2: stop() settled after the attempts did, not when it was called.
    expect(unfinished).to.equal(0);
    expect((await row('a', 'log')).state).to.equal('delivered');
    expect((await row('b', 'log')).state).to.equal('delivered');
    // Each finished attempt wakes its lane: a stopped lane must not answer by claiming 'c'.
    await d.idle();
    expect(log.calls.map((e) => e.id)).to.deep.equal(['a', 'b']);
    expect((await row('c', 'log')).state).to.equal('pending');
  });

  it('stop() gives the rows it claimed ahead back at once', async () => {
    setup({ concurrency: 2 });
    const log = new FlakyEmitter('log', [], hang);
    const d = dispatcher([log]);
    await accept(
      Array.from({ length: 10 }, (_, i) => `e${i}`),
      ['log'],
      d,
    );
    await waitFor('two attempts hanging', () => log.hanging === 2);
    expect(await d.stop(1)).to.equal(2);
    // Only the two rows in flight stay held; the two claimed ahead of a free slot are back.
    expect(await store.claim('log', Date.now(), 100)).to.have.length(8);
  });

  it('goes back to the store, not on with rows claimed ahead, when an outcome cannot be recorded', async () => {
    setup({ concurrency: 2 });
    const log = new FlakyEmitter('log', [succeed], hang);
    const markDelivered = store.markDelivered.bind(store);
    let failures = 0;
    store.markDelivered = (id, attempts) =>
      failures++ === 0 ? Promise.reject(new Error('database or disk is full')) : markDelivered(id, attempts);
    const d = dispatcher([log]);
    await accept(
      Array.from({ length: 10 }, (_, i) => `e${i}`),
      ['log'],
      d,
    );
    await waitFor('two attempts hanging', () => log.hanging === 2);
    // e0 was delivered but not recorded, so it is due again at once and comes first: the rows
    // claimed ahead (e2, e3) went back rather than being delivered while the store refused.
    expect(log.calls.map((e) => e.id)).to.deep.equal(['e0', 'e1', 'e0']);
  });

  it('idle() waits for the attempts in flight and the pumps their outcomes queue', async () => {
    setup();
    const log = new FlakyEmitter('log', [hang]);
    const d = dispatcher([log]);
    await accept(['a', 'b'], ['log'], d);
    await waitFor('a hanging attempt and a delivered one', () => log.hanging === 1 && log.delivered.length === 1);

    let idle = false;
    const idling = d.idle().then(() => (idle = true));
    // A store round trip: time enough for an idle() that ignored the hanging attempt to resolve.
    await accept(['c'], ['log'], d);
    await waitFor('c delivered', () => log.delivered.length === 2);
    expect(idle).to.equal(false);

    log.release();
    await idling;
    expect(log.delivered.map((e) => e.id).sort()).to.deep.equal(['a', 'b', 'c']);
    expect((await row('a', 'log')).state).to.equal('delivered');
  });

  it('stop() gives up at its timeout and leaves unfinished rows pending for the next run', async () => {
    setup();
    const log = new FlakyEmitter('log', [], hang);
    const d = dispatcher([log]);
    await accept(['a'], ['log'], d);
    await waitFor('attempt in flight', () => log.hanging === 1);

    expect(await d.stop(50)).to.equal(1);
    expect(await row('a', 'log')).to.include({ state: 'pending', attempts: 0 });
    log.release();
  });

  it('counts an attempt that outlives attemptTimeoutMs as a retryable failure', async () => {
    setup({ maxAttempts: 2 });
    const brigade = new FlakyEmitter('brigade', [hang]);
    const d = dispatcher([brigade], { attemptTimeoutMs: 100 });
    await accept(['e1'], ['brigade'], d);

    await waitFor('delivery after the timeout', async () => (await row('e1', 'brigade')).state === 'delivered');
    expect(brigade.calls).to.have.length(2);
    expect(await deliveries('brigade', 'retried')).to.equal(1);
    brigade.release();
  });

  it('leaves rows for an emitter that is no longer configured pending, and says so once', async () => {
    setup();
    const { logger, lines } = capturingLogger();
    await accept(['e1', 'e2'], ['kubeapps']);
    // Each housekeeping round reads the counts: three rounds give the warning three chances.
    let rounds = 0;
    const counts = store.counts.bind(store);
    store.counts = () => {
      rounds++;
      return counts();
    };
    const d = dispatcher([new FlakyEmitter('log')], { logger, pruneIntervalMs: 20 });

    await waitFor('three housekeeping rounds', () => rounds >= 3);
    await d.idle();
    const warnings = lines.filter((l) => l.emitter === 'kubeapps' && l.level === 40);
    expect(warnings).to.have.length(1);
    expect(warnings[0].pending).to.equal(2);
    expect((await store.list({ emitter: 'kubeapps' })).rows.reverse().map((r) => [r.state, r.attempts])).to.deep.equal([
      ['pending', 0],
      ['pending', 0],
    ]);
  });

  it('logs each outcome with the event id and emitter', async () => {
    setup();
    const { logger, lines } = capturingLogger();
    const knative = new FlakyEmitter('knative', [retryable('HTTP 503', 503), permanent('HTTP 400', 400)]);
    const d = dispatcher([knative], { logger });
    await accept(['e1'], ['knative'], d);

    await waitFor('dead letter', async () => (await row('e1', 'knative')).state === 'dead');
    await waitFor('log lines', () => lines.filter((l) => l.eventId === 'e1').length === 2);
    const outcomes = lines.filter((l) => l.eventId === 'e1').map((l) => [l.emitter, l.attempt, l.status, l.msg]);
    expect(outcomes).to.deep.equal([
      ['knative', 1, 503, 'delivery failed; will retry'],
      ['knative', 2, 400, 'delivery refused for good; dead-lettered'],
    ]);
  });

  it('prunes delivered rows on its schedule', async () => {
    setup({ deliveredRetentionSeconds: 0 });
    const log = new FlakyEmitter('log');
    const d = dispatcher([log], { pruneIntervalMs: 50 });
    await accept(['e1'], ['log'], d);

    await waitFor('delivery', () => log.delivered.length === 1);
    await waitFor('prune', async () => (await store.list()).rows.length === 0);
  });

  it('refuses two emitters with the same name', () => {
    setup();
    expect(() => new Dispatcher(store, [new FlakyEmitter('log'), new FlakyEmitter('log')], deliverySettings)).to.throw(
      /two emitters are named log/,
    );
  });
});
