import type { RegistryEvent } from '../model/event';
import { currentTraceContext, inSpan } from '../observability/tracing';
import { route, type RouteTarget } from './routing';
import type { Ledger } from './store/types';
import type { AcceptResult, EventIntake } from './types';

/**
 * Accepting an event = routing it to the emitters that want it and committing it with one
 * delivery row each; the dispatcher is woken so the first attempt does not wait for its poll.
 */
export class StoringIntake implements EventIntake {
  constructor(
    private readonly store: Ledger,
    private readonly targets: readonly RouteTarget[],
    private readonly wake: () => void,
  ) {}

  async accept(events: RegistryEvent[]): Promise<AcceptResult[]> {
    const routeOne = (event: RegistryEvent) => route(event, this.targets);
    // The commit's span is the one stored with the events: every attempt continues from it.
    const attributes = {
      'db.system.name': this.store.engine === 'postgres' ? 'postgresql' : 'sqlite',
      'registry_gateway.events': events.length,
    };
    const results = await inSpan('store commit', attributes, () => {
      const trace = currentTraceContext();
      return this.store.accept(events.map((event) => ({ event, emitters: routeOne(event), route: routeOne, trace })));
    });
    if (results.some((r) => !r.duplicate)) this.wake();
    return results;
  }
}
