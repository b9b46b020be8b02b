import Joi from 'joi';
import type { Logger } from 'pino';
import type { EmitterSectionBase, EventFilter } from '../config/types';
import type { RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';
import type { TargetRequest } from './preview';

export type { EmitterSectionBase, EventFilter } from '../config/types';

/**
 * A target the gateway delivers events to. One instance per enabled `emitters.<key>` section,
 * or per endpoint of a section that lists several.
 */
export interface Emitter {
  /**
   * The config key (`brigade`, `knative`, ...), or `<key>/<endpoint>` for one endpoint of
   * several: also the delivery row's emitter name.
   */
  readonly name: string;
  /**
   * Where the target is, for the console's Targets page: a URL or a resource, never with a
   * credential (user info and secret-looking query values hidden).
   */
  readonly address?: string;
  /** Resolves when the target took the event; throws DeliveryError otherwise. */
  deliver(event: RegistryEvent, attempt?: AttemptContext): Promise<void>;
  /**
   * One endpoint's own routing filter when a section configures several endpoints, each its own
   * emitter (`webhook/<name>`); the section's `filter` applies as well.
   */
  readonly endpointFilter?: EventFilter;
  /** Whether this emitter wants the event at all, beyond the routing filter (Kubeapps rules). */
  accepts?(event: RegistryEvent): boolean;
  /**
   * The requests `deliver` would send for the event, rendered without sending them, for the
   * console. Never carries a credential (see `preview.ts`). May throw what `deliver` would.
   * Targets that find their objects by listing them (Flux, Kargo) list them here too, so the
   * preview names the very objects a delivery would patch.
   */
  preview?(event: RegistryEvent): TargetRequest[] | Promise<TargetRequest[]>;
  close?(): Promise<void>;
}

/** What an attempt knows besides the event. */
export interface AttemptContext {
  /**
   * The trace the event was accepted in: a CloudEvent carries it as its `traceparent` and
   * `tracestate` attributes, the same on every attempt. (Each HTTP request's own `traceparent`
   * header is the hop's, set by the HTTP instrumentation.)
   */
  trace?: TraceContext;
}

/**
 * A failed delivery, classified: retryable failures are tried again with backoff, permanent ones
 * go straight to the dead-letter state. `message` reaches logs and `deliveries list`: never put
 * credentials in it.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /**
     * How long the target asked to be left alone (its Retry-After), in milliseconds. The lane
     * waits at least this long before the next attempt, never longer than its backoff ceiling.
     */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Whether this caller opened a shared window, or when the window already running started and ends. */
export type WindowClaim = { opened: true } | { opened: false; startedAt: number; endsAt: number };

/**
 * Work that must happen once per window across every replica sharing the store, such as one
 * Kubeapps refresh per AppRepository. Absent with one process, where local windows already are.
 */
export interface SharedWindows {
  /** Opens window `key` from `nowMs` for `windowMs` unless one is running. */
  open(key: string, nowMs: number, windowMs: number): Promise<WindowClaim>;
}

export interface EmitterDeps {
  logger: Logger;
  sharedWindows?: SharedWindows;
}

/** A section's own keys: what the plugin's `settings` schema describes. */
export type OwnSettings<Section extends EmitterSectionBase> = Omit<Section, keyof EmitterSectionBase>;

/**
 * One target kind: its config section and how to build it. Adding a target is a new module
 * exporting one of these plus a line in `emitters/index.ts`.
 */
export interface EmitterPlugin<
  Key extends string = string,
  Section extends EmitterSectionBase = EmitterSectionBase,
  Created extends Emitter | readonly Emitter[] = Emitter,
> {
  readonly key: Key;
  /**
   * The section's keys besides `enabled` and `filter`, each with its default: the one place the
   * section's defaults are written. Typed against `Section`, so schema and type cannot drift.
   */
  readonly settings: Joi.StrictSchemaMap<OwnSettings<Section>>;
  readonly enabledByDefault: boolean;
  /**
   * The section's emitter, or one per endpoint where a section lists several (each with its own
   * name, and so its own lane, circuit and dead letters).
   */
  create(section: Section, deps: EmitterDeps): Created;
}

/**
 * Settings given in part (by a test, or by a caller that wants the defaults) completed with the
 * defaults of the plugin's own schema, so that no constructor writes a default a second time.
 */
export function withDefaults<Settings extends object>(
  settings: Joi.StrictSchemaMap<Settings>,
  given: Partial<Settings>,
): Settings {
  const defaults = Joi.object<Settings>(settings).validate({}, { abortEarly: false }).value as Settings;
  const defined = Object.entries(given).filter(([, v]) => v !== undefined);
  return { ...defaults, ...(Object.fromEntries(defined) as Partial<Settings>) };
}
