import picomatch from 'picomatch';
import type { EventFilter } from '../config/types';
import type { RegistryEvent } from '../model/event';

/** An emitter as routing sees it: its name, its configured filter and its own opinion. */
export interface RouteTarget {
  readonly name: string;
  readonly filter?: EventFilter;
  accepts?(event: RegistryEvent): boolean;
}

type EventPredicate = (event: RegistryEvent) => boolean;

/** Filters live as long as the config, so each is compiled to glob matchers once. */
const compiled = new WeakMap<EventFilter, EventPredicate>();

function oneOf(values: string[] | undefined): ((value: string) => boolean) | undefined {
  if (!values || values.length === 0) return undefined;
  const set = new Set(values);
  return (value) => set.has(value);
}

function anyGlob(globs: string[] | undefined): ((value: string) => boolean) | undefined {
  if (!globs || globs.length === 0) return undefined;
  // `*` stays within one path segment and `**` spans them, as in the token scopes, so one glob
  // means the same in a scope and in a filter.
  return picomatch(globs, { dot: true });
}

export function compileFilter(filter: EventFilter): EventPredicate {
  const provider = oneOf(filter.providers);
  const type = oneOf(filter.types);
  const registry = anyGlob(filter.registries);
  const repo = anyGlob(filter.repos);
  return (event) =>
    (!provider || provider(event.provider)) &&
    (!type || type(event.type)) &&
    (!registry || registry(event.registry)) &&
    // A repository filter asks for repositories: quota, replication and retention events have none.
    (!repo || (event.repo !== undefined && repo(event.repo)));
}

/** Every listed dimension must match; an absent or empty list matches everything. */
export function matchesFilter(event: RegistryEvent, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  let predicate = compiled.get(filter);
  if (!predicate) {
    predicate = compileFilter(filter);
    compiled.set(filter, predicate);
  }
  return predicate(event);
}

/**
 * The names of the targets an event goes to, in the order given: each gets its own delivery,
 * retried and dead-lettered on its own (README, Routing).
 */
export function route(event: RegistryEvent, targets: readonly RouteTarget[]): string[] {
  const names: string[] = [];
  for (const target of targets) {
    if (!matchesFilter(event, target.filter)) continue;
    if (target.accepts && !target.accepts(event)) continue;
    names.push(target.name);
  }
  return names;
}
