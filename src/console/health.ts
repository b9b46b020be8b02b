import type { DeliverySettings } from '../config/types';
import type { TargetHealth } from '../delivery/types';
import type { ConsoleDeps } from './types';

/**
 * A target's health in words an operator reads the right way round: a circuit breaker's "closed"
 * (healthy) and "open" (down) read backwards to most people.
 */
export interface HealthWord {
  word: 'delivering' | 'down (probing)' | 'recovering';
  /** The state class the page colours it with. */
  tone: 'delivered' | 'pending' | 'dead';
  /** One more line of why, when there is more to say. */
  detail?: string;
}

/**
 * Down: the circuit is open, so only one probe at a time goes to it. Recovering: it answered
 * again after failing within the recent window, and the rows the failures left are still
 * draining. Anything else is delivering, with its retries counted when rows wait on a backoff.
 */
export function healthOf(t: TargetHealth, nowMs: number, recentMs: number): HealthWord {
  if (t.circuit?.state === 'open') {
    return { word: 'down (probing)', tone: 'dead', detail: 'one probe at a time until it answers' };
  }
  const failedAt = t.lastError?.at;
  const failedRecently = failedAt !== undefined && failedAt >= nowMs - recentMs;
  if (failedRecently && t.lastSuccess !== undefined && t.lastSuccess > failedAt && t.pending > 0) {
    return { word: 'recovering', tone: 'pending', detail: `answering again; ${t.pending} still to deliver` };
  }
  if (failedRecently && t.pending > 0 && (t.lastSuccess ?? 0) < failedAt) {
    return { word: 'delivering', tone: 'pending', detail: 'its last attempt failed; retrying with backoff' };
  }
  return { word: 'delivering', tone: 'delivered' };
}

/** Every target's retry settings (the `delivery` section), as one sentence. */
export function retrySettings(d: DeliverySettings): string {
  return (
    `up to ${d.maxAttempts} attempts per delivery, waiting ${d.initialBackoffSeconds} s doubling to at most ` +
    `${d.maxBackoffSeconds} s between them (with jitter, or longer when the target asks with Retry-After); ` +
    `while a target is down, probes do not spend attempts`
  );
}

/** Configured emitters first, in routing order, then any the store still holds rows for. */
export function targetRows(deps: ConsoleDeps, health: TargetHealth[], nowMs: number, recentMinutes: number) {
  const byName = new Map(health.map((h) => [h.emitter, h]));
  const names = [...deps.emitters.map((e) => e.name), ...health.map((h) => h.emitter)];
  return [...new Set(names)].map((emitter) => {
    const row = byName.get(emitter) ?? { emitter, pending: 0, dead: 0, delivered: 0, deliveredRecently: 0 };
    const configured = deps.emitters.find((e) => e.name === emitter);
    return {
      ...row,
      configured: configured !== undefined,
      address: configured?.address,
      health: healthOf(row, nowMs, recentMinutes * 60_000),
      perMinute: (row.deliveredRecently / recentMinutes).toFixed(1),
    };
  });
}
