import { expect } from 'chai';
import { TargetCircuit } from '../../src/delivery/circuit';
import { Dispatcher } from '../../src/delivery/dispatcher';
import { PostgresStore } from '../../src/delivery/store/postgres';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import type { DeliveryStore } from '../../src/delivery/store/types';
import type { DeliverySettings } from '../../src/delivery/types';
import { DeliveryError } from '../../src/emitters/types';
import type { RegistryEvent } from '../../src/model/event';
import { Metrics } from '../../src/observability/metrics';
import { requirePostgres, sharedPostgres } from '../helpers/postgres';
import { FlakyEmitter, hang, retryable, succeed } from '../fakes/flaky-emitter';
import { capturingLogger, makeEvent, settings, tempDir } from './support';
import { waitFor } from '../helpers/wait';

describe('TargetCircuit', () => {
  const settings = { failureThreshold: 3, probeInitialMs: 1000, probeMaxMs: 4000 };

  it('opens only when different deliveries fail in a row, and any answer resets the count', () => {
    const c = new TargetCircuit(settings, 0);
    expect([c.failed(1, 'a', 0), c.failed(1, 'a', 1), c.failed(2, 'b', 2), c.failed(2, 'b', 3)]).to.deep.equal([
      false,
      false,
      false,
      false,
    ]);
    c.answered(4);
    expect([c.failed(3, 'x', 5), c.failed(4, 'x', 6), c.state]).to.deep.equal([false, false, 'closed']);
    expect(c.failed(5, 'HTTP 503', 7)).to.equal(true);
    expect(c).to.include({ state: 'open', since: 7, lastError: 'HTTP 503', nextProbeAt: 1007 });
    expect(c.failed(6, 'again', 8)).to.equal(false);
  });

  it('probes at a doubling interval up to its cap, and closes on the first answer', () => {
    const c = new TargetCircuit(settings, 0);
    for (const id of [1, 2, 3]) c.failed(id, 'down', 0);
    const probes: number[] = [];
    let now = c.nextProbeAt;
    for (let i = 0; i < 5; i++) {
      probes.push(now);
      c.probeFailed('still down', now);
      now = c.nextProbeAt;
    }
    expect(probes).to.deep.equal([1000, 3000, 7000, 11_000, 15_000]);
    expect(c.answered(now)).to.equal(true);
    expect(c).to.include({ state: 'closed', since: now });
    expect(c.answered(now)).to.equal(false);
  });
});

interface Engine {
  name: string;
  before?: (ctx: Mocha.Context) => Promise<void>;
  open: (
    overrides: Partial<DeliverySettings>,
  ) => Promise<{ store: DeliveryStore; settings: DeliverySettings; cleanup: () => void }>;
}

let databaseUrl = '';
let schemas = 0;

const ENGINES: Engine[] = [
  {
    name: 'sqlite',
    open(overrides) {
      const tmp = tempDir();
      const s = settings(tmp.dir, overrides);
      return Promise.resolve({ store: SqliteStore.open(s), settings: s, cleanup: () => tmp.cleanup() });
    },
  },
  {
    name: 'postgres',
    async before(ctx) {
      requirePostgres(ctx);
      databaseUrl ||= await (await sharedPostgres()).createDatabase();
    },
    async open(overrides) {
      const tmp = tempDir();
      const base = settings(tmp.dir, overrides);
      const s: DeliverySettings = {
        ...base,
        store: 'postgres',
        postgres: { url: databaseUrl, poolSize: 4, schema: `circuit_${++schemas}`, leaseSeconds: 60 },
      };
      return { store: await PostgresStore.open(s), settings: s, cleanup: () => tmp.cleanup() };
    },
  },
];

for (const engine of ENGINES) {
  describe(`target circuit in the dispatcher (${engine.name})`, function () {
    this.timeout(60_000);
    let store: DeliveryStore;
    let cleanups: (() => void | Promise<unknown>)[];
    let metrics: Metrics;

    before(async function () {
      await engine.before?.(this);
    });

    beforeEach(() => {
      cleanups = [];
      metrics = new Metrics();
    });

    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    async function setup(overrides: Partial<DeliverySettings>): Promise<DeliverySettings> {
      const opened = await engine.open(overrides);
      store = opened.store;
      cleanups.push(opened.cleanup, () => store.close());
      return opened.settings;
    }

    async function counter(c: Metrics['targetProbes'], labels: Record<string, string>): Promise<number> {
      const { values } = await c.get();
      return values
        .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
        .reduce((n, v) => n + v.value, 0);
    }

    it('opens on a down target, lets only one probe at a time through, and drains at once when a probe succeeds', async () => {
      // Backoff timers of an hour: only the circuit closing can make the deferred rows due again.
      const s = await setup({ concurrency: 4, maxAttempts: 2, initialBackoffSeconds: 3600, maxBackoffSeconds: 7200 });
      const { logger, lines } = capturingLogger();
      const target = new FlakyEmitter('brigade', [], retryable('HTTP 503', 503));
      let dispatcher: Dispatcher | undefined;
      const whileOpen = { calls: 0, inFlight: 0, maxInFlight: 0 };
      const watched = {
        name: 'brigade',
        async deliver(event: RegistryEvent) {
          const open = dispatcher!.targets()[0].state === 'open';
          if (open) {
            whileOpen.calls++;
            whileOpen.maxInFlight = Math.max(whileOpen.maxInFlight, ++whileOpen.inFlight);
          }
          try {
            await target.deliver(event);
          } finally {
            if (open) whileOpen.inFlight--;
          }
        },
      };
      dispatcher = new Dispatcher(store, [watched], s, {
        metrics,
        logger,
        pollIntervalMs: 50,
        circuit: { failureThreshold: 3, probeInitialMs: 20, probeMaxMs: 80 },
      });
      cleanups.push(() => dispatcher.stop(5000));
      const ids = Array.from({ length: 12 }, (_, i) => `e${i}`);
      await store.accept(ids.map((id) => ({ event: makeEvent(id), emitters: ['brigade'] })));
      dispatcher.start();

      await waitFor('failed probes', async () => (await counter(metrics.targetProbes, { outcome: 'failed' })) >= 8);
      expect(dispatcher.targets()[0]).to.include({ state: 'open', lastError: 'HTTP 503' });
      expect((await metrics.targetState.get()).values[0].value).to.equal(1);
      expect(
        lines.filter(
          (l) => l.msg === 'target down: circuit open, pausing its deliveries and probing with one at a time',
        ),
      ).to.have.length(1);
      const recorded = await store.targets();
      expect(recorded.map((t) => [t.emitter, t.state, t.lastError])).to.deep.equal([['brigade', 'open', 'HTTP 503']]);
      // Failed probes do not spend the rows' attempt budget (2): an outage dead-letters nothing.
      expect((await store.counts())[0]).to.include({ pending: 12, dead: 0 });

      target.otherwise = succeed;
      await waitFor('every event delivered', () => target.delivered.length === 12);
      // The last outcomes are being recorded: count once nothing is left in flight.
      await dispatcher.idle();
      expect(new Set(target.delivered.map((e) => e.id)).size).to.equal(12);
      expect(dispatcher.targets()[0].state).to.equal('closed');
      expect((await metrics.targetState.get()).values[0].value).to.equal(0);
      expect(
        lines.some((l) => l.msg === 'target answers again: circuit closed, delivering the backlog at full concurrency'),
      ).to.equal(true);
      await waitFor('closed state recorded', async () => (await store.targets())[0].state === 'closed');

      // Everything attempted while the circuit was open was a probe, one at a time.
      const probes = await counter(metrics.targetProbes, {});
      expect(whileOpen.calls).to.equal(probes);
      expect(whileOpen.maxInFlight).to.equal(1);
      expect(await counter(metrics.targetProbes, { outcome: 'answered' })).to.equal(1);
      expect(await counter(metrics.circuitOpened, {})).to.equal(1);

      // The history agrees with each row: its counted attempts are numbered 1 to the row's count,
      // and every probe is labelled; a failed probe counts for nothing.
      const histories = async () => {
        const { events } = await store.listEvents({ limit: 100 });
        return Promise.all(events.map(async (e) => (await store.eventDetail(e.seq))!));
      };
      await waitFor('every attempt in the history', async () => {
        const all = await histories();
        return all.reduce((n, d) => n + d.attempts.length, 0) === target.calls.length;
      });
      for (const detail of await histories()) {
        const counted = detail.attempts.filter((a) => a.counted !== false);
        expect(counted.map((a) => a.attempt)).to.deep.equal(counted.map((_, i) => i + 1));
        expect(counted.length).to.equal(detail.deliveries[0].attempts);
        for (const a of detail.attempts.filter((x) => x.counted === false))
          expect(a).to.include({ probe: true, ok: false });
      }
      const attempts = (await histories()).flatMap((d) => d.attempts);
      expect(attempts.filter((a) => a.probe)).to.have.length(probes);
      expect(attempts.filter((a) => a.probe && a.ok)).to.have.length(1);
    });

    it('gives the rows it claimed ahead of a free slot back when it opens', async () => {
      const s = await setup({ concurrency: 2, initialBackoffSeconds: 3600, maxBackoffSeconds: 7200 });
      // Three failures open the circuit; the attempt still in flight then, and the probe, hang.
      const target = new FlakyEmitter(
        'brigade',
        [1, 2].map(() => retryable('HTTP 503', 503)),
        hang,
      );
      // The third failure waits for a fourth attempt to be under way, so both slots are busy when
      // the circuit opens, whichever way the engine's marks happen to be timed.
      let calls = 0;
      let fourthStarted!: () => void;
      const fourth = new Promise<void>((resolve) => (fourthStarted = resolve));
      const gated = {
        name: 'brigade',
        deliver: async (event: RegistryEvent) => {
          const call = ++calls;
          if (call === 4) fourthStarted();
          if (call !== 3) return target.deliver(event);
          await fourth;
          throw new DeliveryError('HTTP 503', true, 503);
        },
      };
      const dispatcher = new Dispatcher(store, [gated], s, {
        metrics,
        pollIntervalMs: 50,
        circuit: { failureThreshold: 3, probeInitialMs: 20, probeMaxMs: 80 },
      });
      cleanups.push(() => dispatcher.stop(1));
      const ids = Array.from({ length: 12 }, (_, i) => `e${i}`);
      await store.accept(ids.map((id) => ({ event: makeEvent(id), emitters: ['brigade'] })));
      dispatcher.start();

      await waitFor('an attempt and a probe hanging', () => target.hanging === 2);
      expect(dispatcher.targets()[0].state).to.equal('open');
      // Only the two rows being attempted are held: nothing waits claimed for a slot the outage keeps busy.
      expect(await store.claim('brigade', Date.now(), 100, { anyDueTime: true })).to.have.length(10);
    });

    it('leaves one event that keeps failing on a healthy target to its own backoff', async () => {
      const s = await setup({ concurrency: 2, maxAttempts: 4 });
      const target = new FlakyEmitter('brigade');
      const picky = {
        name: 'brigade',
        deliver: (event: RegistryEvent) =>
          event.id === 'bad'
            ? new FlakyEmitter('x', [], retryable('HTTP 500', 500)).deliver(event)
            : target.deliver(event),
      };
      const dispatcher = new Dispatcher(store, [picky], s, { metrics, pollIntervalMs: 20 });
      cleanups.push(() => dispatcher.stop(5000));
      await store.accept(['bad', 'g1', 'g2', 'g3'].map((id) => ({ event: makeEvent(id), emitters: ['brigade'] })));
      dispatcher.start();

      await waitFor('the bad event dead-lettered', async () => (await store.counts())[0]?.dead === 1);
      expect(target.delivered).to.have.length(3);
      expect((await store.list({ eventId: 'bad' })).rows[0]).to.include({ state: 'dead', attempts: 4 });
      expect(await counter(metrics.circuitOpened, {})).to.equal(0);
      expect(await counter(metrics.targetProbes, {})).to.equal(0);
      expect(dispatcher.targets()[0].state).to.equal('closed');
    });
  });
}
