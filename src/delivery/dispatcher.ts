import type { Logger } from 'pino';
import type { Emitter } from '../emitters/types';
import type { Metrics } from '../observability/metrics';
import { backoffPolicy } from './backoff';
import { DEFAULT_CIRCUIT, type CircuitSettings } from './circuit';
import { EmitterLane, type LaneContext } from './lane';
import type { Queue } from './store/types';
import type { DeliverySettings, TargetState } from './types';

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
  /** When a target counts as down, and how it is probed then. */
  circuit?: Partial<CircuitSettings>;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_PRUNE_INTERVAL_MS = 60_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 120_000;

/** One target's circuit as this process sees it. */
export interface TargetHealth {
  emitter: string;
  state: TargetState;
  since: number;
  lastError?: string;
}

/**
 * Delivers stored events to their emitters: per emitter, up to `concurrency` attempts at a time,
 * retried with full-jitter exponential backoff until `maxAttempts`, then dead-lettered. Wakes on
 * notify() after each accept, and polls the store so that changes made by another process (the
 * operator's `deliveries replay`) are picked up too.
 */
export class Dispatcher {
  private readonly lanes = new Map<string, EmitterLane>();
  private readonly store: Queue;
  private readonly logger?: Logger;
  private readonly clock: () => number;
  private readonly pruneIntervalMs: number;
  private pruneTimer?: NodeJS.Timeout;
  private readonly reportedUnknown = new Set<string>();
  private running = false;
  private stopping?: Promise<number>;
  /** Housekeeping rounds in progress (prune, report unknown emitters), for idle(). */
  private readonly chores = new Set<Promise<void>>();

  constructor(store: Queue, emitters: readonly Emitter[], settings: DeliverySettings, options: DispatcherOptions = {}) {
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
      circuit: { ...DEFAULT_CIRCUIT, ...options.circuit },
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
    this.chore(this.reportUnknownEmitters());
    this.pruneTimer = setInterval(() => this.chore(this.housekeeping()), this.pruneIntervalMs);
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

  /** Each emitter's circuit: `open` while its target is down and only probed. */
  targets(): TargetHealth[] {
    return [...this.lanes.values()].map(({ emitter, circuit }) => {
      const health: TargetHealth = { emitter: emitter.name, state: circuit.state, since: circuit.since };
      if (circuit.lastError !== undefined) health.lastError = circuit.lastError;
      return health;
    });
  }

  /**
   * Resolves once every lane is idle (no pump running or queued, no attempt in flight) and no
   * housekeeping round is running: everything this dispatcher was told to do is done. Tests
   * wait on it instead of a fixed sleep to show that something did not happen.
   */
  async idle(): Promise<void> {
    const lanes = [...this.lanes.values()];
    // A lane woken by another's outcome (the store's wake) makes the first pass stale: look again.
    do {
      await Promise.all([...lanes.map((lane) => lane.idle()), ...this.chores]);
    } while (this.chores.size > 0 || lanes.some((lane) => !lane.isIdle));
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

  private chore(work: Promise<void>): void {
    this.chores.add(work);
    void work.finally(() => this.chores.delete(work));
  }

  private async housekeeping(): Promise<void> {
    try {
      const pruned = await this.store.prune(this.clock());
      if (Object.values(pruned).some((n) => n > 0)) this.logger?.debug({ pruned }, 'pruned the store');
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
