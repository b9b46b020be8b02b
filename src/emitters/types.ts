import type Joi from 'joi';
import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';

/** A target the gateway delivers events to. One instance per enabled `emitters.<key>` section. */
export interface Emitter {
  /** The config key (`brigade`, `knative`, ...): also the delivery row's emitter name. */
  readonly name: string;
  /** Resolves when the target took the event; throws DeliveryError otherwise. */
  deliver(event: RegistryEvent): Promise<void>;
  /** Whether this emitter wants the event at all, beyond the routing filter (Kubeapps rules). */
  accepts?(event: RegistryEvent): boolean;
  close?(): Promise<void>;
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
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface EmitterDeps {
  logger: Logger;
}

/** Settings every emitter section has, whatever its target. */
export interface EmitterSectionBase {
  enabled: boolean;
  filter: EventFilter;
}

export interface EventFilter {
  providers?: string[];
  types?: string[];
  registries?: string[];
  repos?: string[];
}

/**
 * One target kind: its config section and how to build it. Adding a target is a new module
 * exporting one of these plus a line in `emitters/index.ts`.
 */
export interface EmitterPlugin<S extends EmitterSectionBase = EmitterSectionBase> {
  readonly key: string;
  /** Keys of the section besides `enabled` and `filter`, with their defaults. */
  readonly settings: Joi.PartialSchemaMap;
  readonly enabledByDefault: boolean;
  create(section: S, deps: EmitterDeps): Emitter;
}
