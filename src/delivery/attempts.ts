import type { Logger } from 'pino';
import type { Exchange } from '../emitters/exchange';
import { DeliveryError } from '../emitters/types';
import type { AttemptDescription } from '../observability/tracing';
import type { Queue } from './store/types';
import type { AttemptRecord, DueDelivery } from './types';

/** What one attempt came to, as the dispatcher knows it when the emitter has settled. */
export interface AttemptOutcome {
  succeeded: boolean;
  failure?: unknown;
  /** Epoch ms at which the attempt ended. */
  endedAt: number;
  durationMs: number;
  /** Made as the circuit's probe. */
  probe: boolean;
  /** Whether it spent one of the row's attempts (a probe failing as the target's failure does not). */
  counted: boolean;
  exchanges: Exchange[];
}

export function attemptRecord(row: DueDelivery, attempt: number, outcome: AttemptOutcome): AttemptRecord {
  const record: AttemptRecord = {
    deliveryId: row.id,
    emitter: row.emitter,
    attempt,
    startedAt: outcome.endedAt - outcome.durationMs,
    durationMs: outcome.durationMs,
    ok: outcome.succeeded,
  };
  if (outcome.probe) record.probe = true;
  if (!outcome.counted) record.counted = false;
  if (outcome.exchanges.length > 0) record.exchanges = [...outcome.exchanges];
  const answered = outcome.exchanges.at(-1)?.answer;
  if (outcome.succeeded) {
    if (answered) record.status = answered.status;
    return record;
  }
  const { failure } = outcome;
  record.error = failure instanceof Error ? failure.message || failure.name : String(failure);
  if (failure instanceof DeliveryError && failure.status !== undefined) record.status = failure.status;
  return record;
}

/** The attempt as its span describes it: the event, the target, the stored trace context. */
export function attemptDescription(row: DueDelivery, attempt: number, probe: boolean): AttemptDescription {
  const { event } = row;
  return {
    emitter: row.emitter,
    eventId: event.id,
    eventSource: event.source,
    eventType: event.type,
    attempt,
    probe,
    trace: row.trace,
  };
}

/**
 * Writes the attempt to the store's history without holding the delivery up: the history is
 * for people reading the console, and a failure to write it must never turn into a retry.
 * The returned promise never rejects; it tells when the history has the attempt.
 */
export function noteAttempt(
  store: Queue,
  row: DueDelivery,
  attempt: number,
  outcome: AttemptOutcome,
  logger?: Logger,
): Promise<void> {
  return store
    .recordAttempt(attemptRecord(row, attempt, outcome))
    .catch((err: unknown) => logger?.warn({ err, deliveryId: row.id }, 'cannot record the attempt in its history'));
}
