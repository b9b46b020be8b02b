import type { ProviderName, RegistryEvent } from '../model/event';

/** What a parser sees of the HTTP request: already authenticated, body parsed as JSON. */
export interface InboundRequest {
  body: unknown;
  /** Media type without parameters, lower-cased; undefined when the sender set none. */
  contentType: string | undefined;
  /** Lower-cased header names. Parsers read only protocol headers (CloudEvents `ce-*`). */
  headers: Readonly<Record<string, string | undefined>>;
}

/** Per-request facts a parser needs beyond the body. */
export interface ParseContext {
  /** `sources.<provider>` from the config. */
  source: string;
  /** Turns a raw registry host into the event's `registry` qualifier (CONTRACT §2.2). */
  registry: RegistryResolver;
  /** Provider-specific switches (`providers.<name>` in the config). */
  options: ProviderOptions;
}

export interface ProviderOptions {
  distribution: { emitPulls: boolean };
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
 * One registry's webhook format. `matches` decides auto-detection on `POST /events` from the
 * body shape alone; `parse` throws PayloadError naming every field it refuses.
 */
export interface RegistryParser {
  readonly provider: ProviderName;
  readonly defaultSource: string;
  matches(request: InboundRequest): boolean;
  parse(request: InboundRequest, context: ParseContext): ParseOutcome;
}
