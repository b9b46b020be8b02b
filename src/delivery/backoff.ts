import type { DeliverySettings } from './types';

/** Exponential backoff bounds in milliseconds. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export function backoffPolicy(
  settings: Pick<DeliverySettings, 'initialBackoffSeconds' | 'maxBackoffSeconds'>,
): BackoffPolicy {
  return {
    initialMs: Math.max(0, settings.initialBackoffSeconds * 1000),
    maxMs: Math.max(0, settings.maxBackoffSeconds * 1000),
  };
}

/**
 * The largest delay after the `attempt`-th failed attempt (1-based): `initial * 2^(attempt-1)`,
 * capped at `max`. Written so that huge attempt counts saturate at `max` instead of overflowing
 * to Infinity or NaN.
 */
export function backoffCeilingMs(policy: BackoffPolicy, attempt: number): number {
  const initial = Math.max(0, policy.initialMs);
  const max = Math.max(0, policy.maxMs);
  if (initial === 0 || max === 0) return 0;
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent beyond max/initial cannot change the result; stop before it overflows.
  if (exponent >= Math.log2(max / initial)) return max;
  return Math.min(max, initial * 2 ** exponent);
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): a uniformly random delay
 * in [0, ceiling]. Spreading retries over the whole window keeps a recovering target from being
 * hit by every queued retry at the same instant. `random` is injectable so tests can pin the edges.
 */
export function fullJitterDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(policy, attempt);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.round(unit * ceiling);
}
