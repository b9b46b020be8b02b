import picomatch from 'picomatch';
import type { EventFilter } from '../config/types';
import type { RegistryEvent } from '../model/event';

/** An emitter as routing sees it: its name, its configured filter and its own opinion. */
export interface RouteTarget {
  readonly name: string;
  /** The section's `filter`. */
  readonly filter?: EventFilter;
  /**
   * A narrower filter of one endpoint among several in a section (a webhook endpoint's own
   * `filter`): the event must pass both.
   */
  readonly endpointFilter?: EventFilter;
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
  const change = oneOf(filter.changes);
  return (event) =>
    (!change || event.tagChange === undefined || change(event.tagChange)) &&
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
 * retried and dead-lettered on its own (docs/configuration.md, Routing).
 */
export function route(event: RegistryEvent, targets: readonly RouteTarget[]): string[] {
  const names: string[] = [];
  for (const target of targets) {
    if (!matchesFilter(event, target.filter) || !matchesFilter(event, target.endpointFilter)) continue;
    if (target.accepts && !target.accepts(event)) continue;
    names.push(target.name);
  }
  return names;
}

/** Whether a target takes an event and, when not, which rule turned it away. */
export interface RouteDecision {
  name: string;
  matched: boolean;
  /** Why not, in the config's words (`filter.types`...); absent when matched. */
  reason?: string;
}

/** The filter dimension that excludes the event, or undefined when the filter lets it through. */
function excludedBy(event: RegistryEvent, filter: EventFilter | undefined, label = 'filter'): string | undefined {
  if (!filter) return undefined;
  const listed = (values: string[] | undefined) => (values && values.length > 0 ? values : undefined);
  const { providers, types, registries, repos, changes } = filter;
  if (listed(providers) && !compileFilter({ providers })(event)) {
    return `${label}.providers does not list ${event.provider}`;
  }
  if (listed(types) && !compileFilter({ types })(event)) return `${label}.types does not list ${event.type}`;
  if (listed(registries) && !compileFilter({ registries })(event)) {
    return `${label}.registries matches no glob for ${event.registry}`;
  }
  if (listed(repos) && !compileFilter({ repos })(event)) {
    return event.repo === undefined
      ? `${label}.repos asks for a repository; this event has none`
      : `${label}.repos matches no glob for ${event.repo}`;
  }
  if (listed(changes) && !compileFilter({ changes })(event)) {
    return `filter.changes does not list ${event.tagChange}`;
  }
  return undefined;
}

/**
 * `route`, explained: every target in the order given, matched or not, with the rule that turned
 * each one away. The console shows it next to the deliveries that routing made at accept time.
 */
export function explain(event: RegistryEvent, targets: readonly RouteTarget[]): RouteDecision[] {
  return targets.map((target) => {
    const reason =
      excludedBy(event, target.filter) ??
      excludedBy(event, target.endpointFilter, 'the endpoint filter') ??
      (target.accepts && !target.accepts(event) ? `the ${target.name} emitter's own rules decline it` : undefined);
    return reason ? { name: target.name, matched: false, reason } : { name: target.name, matched: true };
  });
}
