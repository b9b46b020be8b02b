import type Joi from 'joi';
import type { RegistryEvent } from '../model/event';

/** What a parser sees of the HTTP request: already authenticated, body parsed as JSON. */
export interface InboundRequest {
  body: unknown;
  /** Media type without parameters, lower-cased; undefined when the sender set none. */
  contentType: string | undefined;
  /**
   * Lower-cased header names: only the protocol headers the providers declare (`headers`), so a
   * parser never sees credentials or anything else the edge does not hand over.
   */
  headers: Readonly<Record<string, string | undefined>>;
}

/** Per-request facts a parser needs beyond the body. */
export interface ParseContext<Options = unknown> {
  /** `sources.<provider>` from the config. */
  source: string;
  /** Turns a raw registry host into the event's `registry` qualifier. */
  registry: RegistryResolver;
  /** `providers.<name>` from the config, defaults filled in by the provider's own schema. */
  options: Options;
  /**
   * The gateway's id for this request. Only for senders whose body names nothing that tells two
   * deliveries apart (Quay's list of updated tags): their events are then unique per request.
   */
  requestId?: string;
}

export interface RegistryResolver {
  /**
   * `raw` is the host the payload names (may be undefined); `field` names where it came from
   * for the error message. Throws PayloadError when no registry can be determined.
   */
  resolve(raw: string | undefined, field: string): string;
}

export type ParseOutcome =
  | { kind: 'events'; events: RegistryEvent[] }
  | { kind: 'ignored'; reason: string }
  /** A protocol reply that is not an event (Event Grid's subscription validation). */
  | { kind: 'reply'; status: number; body: unknown };

/**
 * One registry, everything the gateway knows of it: the config's `sources`, `defaultRegistry`
 * and `providers` sections, the accepted media types, the `/events/<name>` path and the
 * Content-Type `send` picks are all derived from the list of these in `providers/index.ts`.
 */
export interface RegistryProvider<Options = unknown> {
  /** The provider name: `/events/<name>`, `sources.<name>`, `defaultRegistry.<name>`, events' `provider`. */
  readonly name: string;
  /** What people call the registry: the README's table, package and chart descriptions are checked against it. */
  readonly title: string;
  readonly defaultSource: string;
  /**
   * Another provider whose `defaultRegistry` entry applies when this one's is unset: a provider
   * that carries another registry's events (Event Grid carries ACR's) shares its default.
   */
  readonly defaultRegistryFallback?: string;
  /** The Content-Types this registry sends; the first is the one `send` uses unless `sendsAs` says otherwise. */
  readonly mediaTypes: readonly string[];
  /** `providers.<name>` in the config, with defaults; a provider without switches has none. */
  readonly options?: Joi.ObjectSchema<Options>;
  /**
   * The protocol headers its parser and `matches` read, lower-cased; a trailing `*` names a
   * prefix (`ce-*`). The edge hands a parser these and no others.
   */
  readonly headers?: readonly string[];
  /**
   * The status a body this provider's parser refuses is answered with, where the sender
   * redelivers on every non-2xx (Pub/Sub): a refused body never becomes acceptable, so
   * answering it 400 would only have it sent again until it expires. Default 400.
   */
  readonly refusedStatus?: number;
  /** The Content-Type the registry sends this body with, where it uses more than one. */
  sendsAs?(body: unknown): string;
  /**
   * The protocol headers (of `headers`) the registry sends along with this body and the body
   * does not repeat, so `send` can post a bare payload file as the registry would. A provider
   * whose parser needs no header has none.
   */
  sendHeaders?(body: unknown): Record<string, string>;
  /** Auto-detection on `POST /events`, from the body shape (and protocol headers) alone. */
  matches(request: InboundRequest): boolean;
  /** Throws PayloadError naming every field it refuses. */
  parse(request: InboundRequest, context: ParseContext<Options>): ParseOutcome;
}
