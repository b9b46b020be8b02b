import type { TargetState } from './types';

export interface CircuitSettings {
  /**
   * Different deliveries that must fail retryably in a row, with no answer from the target in
   * between, before the target counts as down. Distinct rows, so that one bad event retrying on
   * a healthy target only ever meets its own backoff.
   */
  failureThreshold: number;
  /** The first probe's delay after opening; each failed probe doubles it up to `probeMaxMs`. */
  probeInitialMs: number;
  probeMaxMs: number;
}

/**
 * A probe is a single request, so even one a second is no load for a recovering target; the cap
 * bounds how long a target that is back waits for the gateway to notice.
 */
export const DEFAULT_CIRCUIT: CircuitSettings = { failureThreshold: 3, probeInitialMs: 1000, probeMaxMs: 2000 };

/**
 * One target's health. Closed: deliveries flow at full concurrency with per-row backoff. Open:
 * the target is down as a whole, so nothing is attempted but one probe at a time, at a growing
 * interval; the first answer from the target (a success, or even a refusal: it is up) closes it.
 */
export class TargetCircuit {
  state: TargetState = 'closed';
  since: number;
  lastError?: string;
  nextProbeAt = 0;
  private readonly failedRows = new Set<number>();
  private probeIntervalMs: number;

  constructor(
    private readonly settings: CircuitSettings,
    now: number,
  ) {
    this.since = now;
    this.probeIntervalMs = settings.probeInitialMs;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** How long after a failed probe the next one goes. */
  get probeInterval(): number {
    return this.probeIntervalMs;
  }

  /** The target answered. Resolves whether this closed the circuit. */
  answered(now: number): boolean {
    this.failedRows.clear();
    if (this.state === 'closed') return false;
    this.state = 'closed';
    this.since = now;
    this.probeIntervalMs = this.settings.probeInitialMs;
    return true;
  }

  /** A retryable failure of delivery `id` outside a probe. Resolves whether this opened the circuit. */
  failed(id: number, error: string, now: number): boolean {
    this.lastError = error;
    if (this.state === 'open') return false;
    this.failedRows.add(id);
    if (this.failedRows.size < Math.max(1, this.settings.failureThreshold)) return false;
    this.failedRows.clear();
    this.state = 'open';
    this.since = now;
    this.probeIntervalMs = this.settings.probeInitialMs;
    this.nextProbeAt = now + this.probeIntervalMs;
    return true;
  }

  /** The probe failed too: the target is still down; wait longer before the next. */
  probeFailed(error: string, now: number): void {
    this.lastError = error;
    this.probeIntervalMs = Math.min(this.settings.probeMaxMs, this.probeIntervalMs * 2);
    this.nextProbeAt = now + this.probeIntervalMs;
  }
}
