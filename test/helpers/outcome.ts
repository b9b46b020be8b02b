import { expect } from 'chai';
import type { RegistryEvent } from '../../src/model/event';
import { PayloadError } from '../../src/model/errors';
import type { ParseOutcome } from '../../src/providers/types';

/** The events of an outcome that must have produced some. */
export function eventsOf(outcome: ParseOutcome): RegistryEvent[] {
  if (outcome.kind !== 'events') throw new Error(`expected events, got ${JSON.stringify(outcome)}`);
  return outcome.events;
}

export function onlyEvent(outcome: ParseOutcome): RegistryEvent {
  const events = eventsOf(outcome);
  expect(events).to.have.length(1);
  return events[0];
}

/** The messages of the 400 that `run` must throw. */
export function rejection(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof PayloadError) return error.errors;
    throw error;
  }
  throw new Error('expected a PayloadError');
}
