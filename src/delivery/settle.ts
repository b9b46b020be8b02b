import type { Logger } from 'pino';
import { DeliveryError } from '../emitters/types';
import { fullJitterDelayMs } from './backoff';
import type { LaneContext } from './lane';
import type { DueDelivery } from './types';

/** What one finished attempt came to, as the lane hands it over for recording. */
export interface SettledAttempt {
  row: DueDelivery;
  /** This attempt's number (the row's attempts so far, plus one). */
  attempts: number;
  succeeded: boolean;
  failure?: unknown;
  /** Anything but a DeliveryError is an emitter bug or a network surprise: worth another try. */
  retryable: boolean;
  message: string;
  /** A probe of a target whose circuit is open. */
  probe: boolean;
}

/**
 * The wait before the next attempt: the backoff's jittered delay, or longer when the target
 * said how long to wait (Retry-After), but never past the backoff ceiling, so a target cannot
 * park a row for a day with one header.
 */
export function retryDelayMs(ctx: LaneContext, attempt: number, failure: unknown): number {
  const jittered = fullJitterDelayMs(ctx.backoff, attempt, ctx.random);
  const asked = failure instanceof DeliveryError ? failure.retryAfterMs : undefined;
  if (asked === undefined || !(asked > jittered)) return jittered;
  return Math.min(asked, ctx.backoff.maxMs);
}

export function describeFailure(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Writes an attempt's outcome to its row: delivered, retried later or dead-lettered. When the
 * store cannot take the outcome the row is released and attempted again: a duplicate delivery,
 * never a lost one. Resolves whether the outcome was recorded.
 */
export async function settleAttempt(
  ctx: LaneContext,
  emitter: string,
  done: SettledAttempt,
  log?: Logger,
): Promise<boolean> {
  const { row, attempts } = done;
  try {
    if (done.succeeded) {
      await ctx.store.markDelivered(row.id, attempts);
      ctx.metrics?.deliveries.inc({ emitter, outcome: 'succeeded' });
      ctx.metrics?.deliveryLatency.observe({ emitter }, Math.max(0, ctx.clock() - row.acceptedAt) / 1000);
      log?.info('delivered');
    } else if (done.probe && done.retryable) {
      // The target's failure, not the row's (the circuit has established that): the row keeps
      // its attempt budget, so an outage never dead-letters what was waiting for it.
      const delayMs = retryDelayMs(ctx, Math.max(1, row.attempts), done.failure);
      await ctx.store.markRetry(row.id, row.attempts, ctx.clock() + delayMs, done.message);
      ctx.metrics?.deliveries.inc({ emitter, outcome: 'retried' });
    } else {
      await settleFailure(ctx, emitter, done, log);
    }
    return true;
  } catch (err) {
    log?.error({ err, delivered: done.succeeded }, 'cannot record the delivery outcome in the store');
    await ctx.store.release(row.id).catch(() => undefined);
    return false;
  }
}

/** A failed attempt that was not a probe: dead-lettered when refused or out of attempts, else retried. */
async function settleFailure(ctx: LaneContext, emitter: string, done: SettledAttempt, log?: Logger): Promise<void> {
  const { row, attempts, message, failure } = done;
  const status = failure instanceof DeliveryError ? failure.status : undefined;
  if (!done.retryable) {
    await ctx.store.markDead(row.id, attempts, message);
    ctx.metrics?.deliveries.inc({ emitter, outcome: 'dead_lettered' });
    log?.error({ error: message, status }, 'delivery refused for good; dead-lettered');
  } else if (attempts >= ctx.settings.maxAttempts) {
    await ctx.store.markDead(row.id, attempts, `exhausted after ${attempts} attempts: ${message}`);
    ctx.metrics?.deliveries.inc({ emitter, outcome: 'dead_lettered' });
    log?.error({ error: message, status }, 'delivery out of attempts; dead-lettered');
  } else {
    const delayMs = retryDelayMs(ctx, attempts, failure);
    await ctx.store.markRetry(row.id, attempts, ctx.clock() + delayMs, message);
    ctx.metrics?.deliveries.inc({ emitter, outcome: 'retried' });
    log?.warn({ error: message, status, retryInMs: delayMs }, 'delivery failed; will retry');
  }
}
