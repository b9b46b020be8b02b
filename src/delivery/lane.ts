import type { Logger } from 'pino';
import { DeliveryError, type Emitter } from '../emitters/types';
import { recordExchanges } from '../emitters/exchange';
import type { Metrics } from '../observability/metrics';
import { inAttemptSpan } from '../observability/tracing';
import { attemptDescription, noteAttempt } from './attempts';
import type { BackoffPolicy } from './backoff';
import { TargetCircuit, type CircuitSettings } from './circuit';
import { ClaimedAhead } from './claimed-ahead';
import { describeFailure, settleAttempt } from './settle';
import type { Queue } from './store/types';
import type { DeliverySettings, DueDelivery, TargetState } from './types';

export interface LaneContext {
  store: Queue;
  settings: DeliverySettings;
  backoff: BackoffPolicy;
  circuit: CircuitSettings;
  metrics?: Metrics;
  logger?: Logger;
  clock: () => number;
  random: () => number;
  pollIntervalMs: number;
  attemptTimeoutMs: number;
}

/** Resolves or rejects as `work` does, or rejects with a retryable DeliveryError after `ms`. */
function withDeadline(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError(`attempt timed out after ${ms} ms`, true)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * One emitter's queue: its own timer, its own in-flight set, its own concurrency budget and its
 * own circuit, so a target that is slow or down only ever delays itself, and a target that is
 * down is asked by one probe at a time instead of by every pending row's backoff timer.
 */
export class EmitterLane {
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private wakeQueued = false;
  private pumping = false;
  private stopped = false;
  private probing = false;
  /** History writes still on their way to the store (they do not hold the delivery up). */
  private readonly notes = new Set<Promise<void>>();
  /** idle() callers, resolved when neither a pump nor an attempt is pending. */
  private idleWaiters: (() => void)[] = [];
  /** What the store says about this target; written when it differs from the circuit. */
  private recorded?: TargetState;
  private readonly logger?: Logger;
  readonly circuit: TargetCircuit;
  private readonly ahead: ClaimedAhead;

  constructor(
    readonly emitter: Emitter,
    private readonly ctx: LaneContext,
  ) {
    this.logger = ctx.logger?.child({ emitter: emitter.name });
    this.circuit = new TargetCircuit(ctx.circuit, ctx.clock());
    this.ahead = new ClaimedAhead(ctx.store, emitter.name, ctx.settings.concurrency);
    ctx.metrics?.targetState.set({ emitter: emitter.name }, 0);
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

  /**
   * Resolves once no pump is running or queued and no attempt is in flight: what a lane does in
   * response to what it has been told is done. A later poll or backoff timer may start it again.
   */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get isIdle(): boolean {
    // A wake queued after stop() never runs, so it is not pending work.
    const pumpPending = this.pumping || (this.wakeQueued && !this.stopped);
    return !pumpPending && this.inFlight.size === 0 && this.notes.size === 0;
  }

  /** Called wherever work may have ended: the end of a pump, of an attempt, of the lane. */
  private settleIdleWaiters(): void {
    if (!this.isIdle) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Stops taking rows (those claimed ahead go back); resolves when the attempts already started have settled. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.settleIdleWaiters();
    return Promise.allSettled([...this.inFlight.values(), this.ahead.giveBack()]).then(() => undefined);
  }

  private async pump(): Promise<void> {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    this.wakeQueued = false;
    clearTimeout(this.timer);
    let sleepMs = this.ctx.pollIntervalMs;
    try {
      sleepMs = this.circuit.isOpen ? await this.probe() : await this.claimDue();
    } catch (err) {
      this.logger?.error({ err }, 'cannot read due deliveries from the store; will try again');
    } finally {
      this.pumping = false;
    }
    this.scheduleNextPump(sleepMs);
    this.settleIdleWaiters();
  }

  private scheduleNextPump(sleepMs: number): void {
    if (this.stopped) return;
    if (this.wakeQueued) {
      // Woken while the store answered: look again now rather than after the sleep.
      setImmediate(() => void this.pump());
      return;
    }
    this.timer = setTimeout(() => void this.pump(), sleepMs);
    this.timer.unref();
  }

  /** Fills the free slots with due rows; resolves how long to sleep before looking again. */
  private async claimDue(): Promise<number> {
    const name = this.emitter.name;
    let sleepMs = this.ctx.pollIntervalMs;
    const free = this.ctx.settings.concurrency - this.inFlight.size;
    if (free <= 0) return sleepMs;
    const now = this.ctx.clock();
    for (const row of await this.ahead.take(free, now)) {
      // The circuit may have opened (or the lane stopped) while the store answered: such rows go back untried.
      if (this.circuit.isOpen || this.stopped) await this.ctx.store.release(row.id);
      else this.start(row, false);
    }
    if (this.circuit.isOpen || this.stopped) await this.ahead.giveBack();
    if (this.inFlight.size < this.ctx.settings.concurrency && !this.circuit.isOpen) {
      // Sleep exactly until the next backoff expires when that is sooner than the poll.
      const next = await this.ctx.store.nextDueAt(name);
      if (next !== undefined) sleepMs = Math.min(sleepMs, Math.max(1, next - now));
    }
    return sleepMs;
  }

  /**
   * The target is down: one probe at a time, when its interval is up, on the soonest pending row
   * whatever that row's own backoff says (any row answers "is the target back?").
   */
  private async probe(): Promise<number> {
    // Rows claimed ahead wait for a slot, and while the target is down none frees up.
    await this.ahead.giveBack();
    if (this.probing) return this.ctx.pollIntervalMs;
    const now = this.ctx.clock();
    if (now < this.circuit.nextProbeAt) return this.circuit.nextProbeAt - now;
    const [row] = await this.ctx.store.claim(this.emitter.name, now, 1, { anyDueTime: true });
    if (row) this.start(row, true);
    return this.ctx.pollIntervalMs;
  }

  private start(row: DueDelivery, probe: boolean): void {
    if (probe) this.probing = true;
    const attempt = this.attempt(row, probe).finally(() => {
      this.inFlight.delete(row.id);
      if (probe) this.probing = false;
      this.wake();
      this.settleIdleWaiters();
    });
    this.inFlight.set(row.id, attempt);
  }

  private note(written: Promise<void>): void {
    this.notes.add(written);
    void written.then(() => {
      this.notes.delete(written);
      this.settleIdleWaiters();
    });
  }

  private async attempt(row: DueDelivery, probe: boolean): Promise<void> {
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
    // In the attempt's span, with every request it makes recorded (through a promise, so an
    // emitter that throws synchronously is classified like any failure).
    const { result, exchanges } = recordExchanges(() =>
      inAttemptSpan(attemptDescription(row, attempts, probe), () =>
        this.emitter.deliver(row.event, { trace: row.trace }),
      ),
    );
    try {
      await withDeadline(result, this.ctx.attemptTimeoutMs);
      succeeded = true;
    } catch (err) {
      failure = err;
    }
    const durationMs = performance.now() - started;
    metrics?.attemptDuration.observe({ emitter: name }, durationMs / 1000);
    const message = succeeded ? '' : describeFailure(failure);
    // Anything but a DeliveryError is an emitter bug or a network surprise: worth another try.
    const retryable = !succeeded && (!(failure instanceof DeliveryError) || failure.retryable);
    // A probe that finds the target still down spends none of the row's attempts (below): its
    // history entry says so and repeats the row's count, so the row and its history agree.
    const counted = !(probe && retryable);
    const outcome = { succeeded, failure, endedAt: this.ctx.clock(), durationMs, probe, counted, exchanges };
    this.note(noteAttempt(this.ctx.store, row, counted ? attempts : row.attempts, outcome, log));
    if (probe) metrics?.targetProbes.inc({ emitter: name, outcome: retryable ? 'failed' : 'answered' });
    const settled = { row, attempts, succeeded, failure, retryable, message, probe };
    // An outcome the store could not take makes the row a duplicate later. The rows claimed
    // ahead go back before this slot frees: delivering them now would only add more.
    if (!(await settleAttempt(this.ctx, name, settled, log))) await this.ahead.giveBack();
    await this.judgeTarget(row, probe, retryable, message);
  }

  /** Feeds one attempt's outcome to the circuit; logs, counts and records any change of state. */
  private async judgeTarget(row: DueDelivery, probe: boolean, retryable: boolean, message: string): Promise<void> {
    const name = this.emitter.name;
    const now = this.ctx.clock();
    const metrics = this.ctx.metrics;
    if (!retryable) {
      if (this.circuit.answered(now)) {
        metrics?.targetState.set({ emitter: name }, 0);
        // Rows deferred by the outage are due now: the backlog drains at full concurrency at once.
        const resumed = await this.ctx.store.resumeTarget(name, now).catch((err) => {
          this.logger?.error({ err }, 'cannot bring deferred deliveries forward; they follow their backoff');
          return 0;
        });
        this.logger?.info(
          { resumed },
          'target answers again: circuit closed, delivering the backlog at full concurrency',
        );
      }
    } else if (probe) {
      this.circuit.probeFailed(message, now);
      this.logger?.debug(
        { error: message, nextProbeInMs: this.circuit.probeInterval },
        'probe failed: target still down',
      );
    } else if (this.circuit.failed(row.id, message, now)) {
      metrics?.targetState.set({ emitter: name }, 1);
      metrics?.circuitOpened.inc({ emitter: name });
      this.logger?.warn(
        { error: message, failures: this.ctx.circuit.failureThreshold, firstProbeInMs: this.circuit.probeInterval },
        'target down: circuit open, pausing its deliveries and probing with one at a time',
      );
    }
    await this.record(probe && retryable);
  }

  /** Writes the circuit to the store when it changed (or, on a failed probe, to refresh the error). */
  private async record(refresh: boolean): Promise<void> {
    const c = this.circuit;
    if (this.recorded === c.state && !refresh) return;
    try {
      await this.ctx.store.saveTarget({
        emitter: this.emitter.name,
        state: c.state,
        since: c.since,
        lastError: c.lastError,
        updatedAt: this.ctx.clock(),
      });
      this.recorded = c.state;
    } catch (err) {
      this.logger?.warn({ err }, 'cannot record the target state in the store');
    }
  }
}
