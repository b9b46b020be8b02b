/**
 * The normalised event every provider produces and every emitter consumes (docs/registries.md, Event
 * vocabulary): subscribers match on `type`, `registry` and `repo` without knowing any
 * registry's payload format.
 */

/**
 * The `name` of one of the providers listed in `providers/index.ts`. A plain string here: the
 * model is the ground every part stands on, so it cannot import the list that defines the names.
 */
export type ProviderName = string;

export const EVENT_TYPES = [
  'push',
  'delete',
  'pull',
  'quarantine',
  'chart_push',
  'chart_delete',
  'chart_pull',
  'scan_completed',
  'scan_failed',
  'scan_stopped',
  'quota_exceeded',
  'quota_warning',
  'replication',
  'tag_retention',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface RegistryEvent {
  /** Stable across a sender's retries: the dedup key together with `source`. */
  id: string;
  provider: ProviderName;
  source: string;
  type: EventType;
  /** Host (and port) of the registry, lower-cased and alias-mapped. */
  registry: string;
  repo?: string;
  tag?: string;
  digest?: string;
  /** RFC 3339. */
  time: string;
  /** The sender's body (or, for multi-event bodies, the one element this event came from). */
  payload: unknown;
}

/** The short form a sender sees in the 202 body. */
export interface EventSummary {
  id: string;
  source: string;
  type: EventType;
  registry: string;
  repo?: string;
  duplicate?: boolean;
}

export function summarise(event: RegistryEvent): EventSummary {
  const summary: EventSummary = {
    id: event.id,
    source: event.source,
    type: event.type,
    registry: event.registry,
  };
  if (event.repo !== undefined) summary.repo = event.repo;
  return summary;
}
