import type { Logger } from 'pino';
import { DeliveryError, type Emitter } from '../emitters/types';
import type { Metrics } from '../observability/metrics';
import { noteAttempt } from './attempts';
import { backoffPolicy, fullJitterDelayMs, type BackoffPolicy } from './backoff';
import type { DeliveryStore } from './store/types';
import type { DeliverySettings, DueDelivery } from './types';

export interface DispatcherOptions {
  metrics?: Metrics;
  logger?: Logger;
  /** Epoch milliseconds; the same clock as the store's. */
  clock?: () => number;
  /** Backoff jitter source, in [0, 1). */
  random?: () => number;
  /** How often each emitter looks at the store even without notify() (another process may replay). */
  pollIntervalMs?: number;
  pruneIntervalMs?: number;
  /**
   * Backstop for an emitter that never settles: the attempt counts as a retryable failure and its
   * slot is freed. Emitters should time out well before this on their own.
   */
  attemptTimeoutMs?: number;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_PRUNE_INTERVAL_MS = 60_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 120_000;

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Resolves or rejects as `work` does, or rejects with a retryable DeliveryError after `ms`. */
function withDeadline(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError(`attempt timed out after ${ms} ms`, true)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

interface LaneContext {
  store: DeliveryStore;
  settings: DeliverySettings;
  backoff: BackoffPolicy;
  metrics?: Metrics;
  logger?: Logger;
  clock: () => number;
  random: () => number;
  pollIntervalMs: number;
  attemptTimeoutMs: number;
}

/**
 * One emitter's queue: its own timer, its own in-flight set and its own concurrency budget, so
 * a target that is slow or down only ever delays itself.
 */
class EmitterLane {
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private wakeQueued = false;
  private pumping = false;
  private stopped = false;
  private readonly logger?: Logger;

  constructor(
    readonly emitter: Emitter,
    private readonly ctx: LaneContext,
  ) {
    this.logger = ctx.logger?.child({ emitter: emitter.name });
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Looks for work soon; calls within one loop turn, or during a pump, coalesce into one more pump. */
  wake(): void {
    if (this.stopped || this.wakeQueued) return;
    this.wakeQueued = true;
    if (this.pumping) return;
    setImmediate(() => void this.pump());
  }

  /** Stops taking rows; resolves when the attempts already started have settled. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    return Promise.allSettled([...this.inFlight.values()]).then(() => undefined);
  }

  private async pump(): Promise<void> {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    this.wakeQueued = false;
    clearTimeout(this.timer);
    const name = this.emitter.name;
    let sleepMs = this.ctx.pollIntervalMs;
    try {
      const free = this.ctx.settings.concurrency - this.inFlight.size;
      if (free > 0) {
        const now = this.ctx.clock();
        for (const row of await this.ctx.store.claim(name, now, free)) this.start(row);
        if (this.inFlight.size < this.ctx.settings.concurrency) {
          // Sleep exactly until the next backoff expires when that is sooner than the poll.
          const next = await this.ctx.store.nextDueAt(name);
          if (next !== undefined) sleepMs = Math.min(sleepMs, Math.max(1, next - now));
        }
      }
    } catch (err) {
      this.logger?.error({ err }, 'cannot read due deliveries from the store; will try again');
    } finally {
      this.pumping = false;
    }
    if (this.stopped) return;
    if (this.wakeQueued) {
      // Woken while the store answered: look again now rather than after the sleep.
      setImmediate(() => void this.pump());
      return;
    }
    this.timer = setTimeout(() => void this.pump(), sleepMs);
    this.timer.unref();
  }

  private start(row: DueDelivery): void {
    const attempt = this.attempt(row).finally(() => {
      this.inFlight.delete(row.id);
      this.wake();
    });
    this.inFlight.set(row.id, attempt);
  }

  private async attempt(row: DueDelivery): Promise<void> {
    const { metrics } = this.ctx;
    const name = this.emitter.name;
    const attempts = row.attempts + 1;
    const log = this.logger?.child({
      deliveryId: row.id,
      eventId: row.event.id,
      source: row.event.source,
      type: row.event.type,
      attempt: attempts,
    });
    const started = performance.now();
    let failure: unknown;
    let succeeded = false;
    try {
      // Through a promise so an emitter that throws synchronously is classified like any failure.
      const delivery = Promise.resolve().then(() => this.emitter.deliver(row.event));
      await withDeadline(delivery, this.ctx.attemptTimeoutMs);
      succeeded = true;
    } catch (err) {
      failure = err;
    }
    const durationMs = performance.now() - started;
    metrics?.attemptDuration.observe({ emitter: name }, durationMs / 1000);
    noteAttempt(this.ctx.store, row, attempts, { succeeded, failure, endedAt: this.ctx.clock(), durationMs }, log);

    try {
      if (succeeded) {
        await this.ctx.store.markDelivered(row.id, attempts);
        metrics?.deliveries.inc({ emitter: name, outcome: 'succeeded' });
        metrics?.deliveryLatency.observe({ emitter: name }, Math.max(0, this.ctx.clock() - row.acceptedAt) / 1000);
        log?.info('delivered');
        return;
      }
      const message = describe(failure);
      const status = failure instanceof DeliveryError ? failure.status : undefined;
      // Anything but a DeliveryError is an emitter bug or a network surprise: worth another try.
      const retryable = !(failure instanceof DeliveryError) || failure.retryable;
      if (!retryable) {
        await this.ctx.store.markDead(row.id, attempts, message);
        metrics?.deliveries.inc({ emitter: name, outcome: 'dead_lettered' });
        log?.error({ error: message, status }, 'delivery refused for good; dead-lettered');
      } else if (attempts >= this.ctx.settings.maxAttempts) {
        await this.ctx.store.markDead(row.id, attempts, `exhausted after ${attempts} attempts: ${message}`);
        metrics?.deliveries.inc({ emitter: name, outcome: 'dead_lettered' });
        log?.error({ error: message, status }, 'delivery out of attempts; dead-lettered');
      } else {
        const delayMs = fullJitterDelayMs(this.ctx.backoff, attempts, this.ctx.random);
        await this.ctx.store.markRetry(row.id, attempts, this.ctx.clock() + delayMs, message);
        metrics?.deliveries.inc({ emitter: name, outcome: 'retried' });
        log?.warn({ error: message, status, retryInMs: delayMs }, 'delivery failed; will retry');
      }
    } catch (err) {
      // The row stays pending and is attempted again: a duplicate delivery, never a lost one.
      log?.error({ err, delivered: succeeded }, 'cannot record the delivery outcome in the store');
      await this.ctx.store.release(row.id).catch(() => undefined);
    }
  }
}

/**
 * Delivers stored events to their emitters: per emitter, up to `concurrency` attempts at a time,
 * retried with full-jitter exponential backoff until `maxAttempts`, then dead-lettered. Wakes on
 * notify() after each accept, and polls the store so that changes made by another process (the
 * operator's `deliveries replay`) are picked up too.
 */
export class Dispatcher {
  private readonly lanes = new Map<string, EmitterLane>();
  private readonly store: DeliveryStore;
  private readonly logger?: Logger;
  private readonly clock: () => number;
  private readonly pruneIntervalMs: number;
  private pruneTimer?: NodeJS.Timeout;
  private readonly reportedUnknown = new Set<string>();
  private running = false;
  private stopping?: Promise<number>;

  constructor(
    store: DeliveryStore,
    emitters: readonly Emitter[],
    settings: DeliverySettings,
    options: DispatcherOptions = {},
  ) {
    this.store = store;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
    this.pruneIntervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
    const ctx: LaneContext = {
      store,
      settings: {
        ...settings,
        concurrency: Math.max(1, Math.floor(settings.concurrency)),
        maxAttempts: Math.max(1, Math.floor(settings.maxAttempts)),
      },
      backoff: backoffPolicy(settings),
      metrics: options.metrics,
      logger: options.logger,
      clock: this.clock,
      random: options.random ?? Math.random,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      attemptTimeoutMs: options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    };
    for (const emitter of emitters) {
      if (this.lanes.has(emitter.name)) throw new Error(`two emitters are named ${emitter.name}`);
      this.lanes.set(emitter.name, new EmitterLane(emitter, ctx));
    }
    // Another replica stored rows, or an operator replayed some: an empty list means "look at all".
    store.onWake((names) => this.notify(names.length > 0 ? names : undefined));
  }

  /** Starts every emitter's loop; rows left pending by a previous run are due at once. */
  start(): void {
    if (this.running || this.stopping) return;
    this.running = true;
    void this.reportUnknownEmitters();
    this.pruneTimer = setInterval(() => void this.housekeeping(), this.pruneIntervalMs);
    this.pruneTimer.unref();
    this.notify();
  }

  /** New rows were stored: look now rather than at the next poll. Absent = every emitter. */
  notify(emitters?: readonly string[]): void {
    if (!this.running) return;
    if (!emitters) {
      for (const lane of this.lanes.values()) lane.wake();
      return;
    }
    for (const name of emitters) this.lanes.get(name)?.wake();
  }

  /** Attempts in flight across all emitters. */
  get inFlight(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.inFlightCount;
    return n;
  }

  /**
   * Stops taking new rows and waits up to `timeoutMs` for the attempts in flight. Resolves with
   * the number still unfinished at the deadline (0 = clean); their rows stay pending and are
   * delivered again after restart.
   */
  stop(timeoutMs = 30_000): Promise<number> {
    if (this.stopping) return this.stopping;
    this.running = false;
    clearInterval(this.pruneTimer);
    const settled = Promise.all([...this.lanes.values()].map((lane) => lane.stop()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    this.stopping = Promise.race([settled, deadline]).then(() => {
      clearTimeout(timer);
      const unfinished = this.inFlight;
      if (unfinished > 0) {
        this.logger?.warn(
          { unfinished },
          'stopped with delivery attempts still in flight; they will be retried after restart',
        );
      }
      return unfinished;
    });
    return this.stopping;
  }

  private async housekeeping(): Promise<void> {
    try {
      const pruned = await this.store.prune(this.clock());
      if (pruned.deliveries + pruned.events + pruned.dedupKeys > 0) this.logger?.debug({ pruned }, 'pruned the store');
    } catch (err) {
      this.logger?.error({ err }, 'store prune failed');
    }
    await this.reportUnknownEmitters();
  }

  /**
   * Rows for an emitter that is no longer configured stay pending (re-enabling it delivers them;
   * `deliveries drop` discards them) rather than being dead-lettered behind the operator's back.
   */
  private async reportUnknownEmitters(): Promise<void> {
    try {
      for (const { emitter, pending } of await this.store.counts()) {
        if (pending === 0 || this.lanes.has(emitter) || this.reportedUnknown.has(emitter)) continue;
        this.reportedUnknown.add(emitter);
        this.logger?.warn(
          { emitter, pending },
          'deliveries are pending for an emitter that is not enabled; they are kept until it is enabled again or dropped with `registry-gateway deliveries drop`',
        );
      }
    } catch (err) {
      this.logger?.error({ err }, 'cannot read delivery counts from the store');
    }
  }
}
