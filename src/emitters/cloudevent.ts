/**
 * A RegistryEvent as a CloudEvent 1.0, and the CloudEvents HTTP protocol binding (binary and
 * structured content modes) written out here rather than taken from the `cloudevents` npm package:
 * its HTTP transport resolves on any answer, a 500 included, so a failed delivery would count as
 * delivered, and it writes attribute values into headers without the percent-encoding the binding
 * requires, so a repository or tag with a space or a non-ASCII character breaks the request.
 */
import type { RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';

export const SPEC_VERSION = '1.0';
export const JSON_CONTENT_TYPE = 'application/json';
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** Attributes the spec defines; an extension may not reuse these names. */
const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
  'data',
  'data_base64',
]);

/** CloudEvents 1.0: attribute names are lower-case ASCII letters and digits only. */
const EXTENSION_NAME = /^[a-z0-9]+$/;

export interface CloudEvent {
  specversion: typeof SPEC_VERSION;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype: typeof JSON_CONTENT_TYPE;
  /** String-valued extension attributes, by name. */
  extensions: Record<string, string>;
  data: unknown;
}

/** A request ready to send: header names as written, body as the exact bytes to post. */
export interface CloudEventHttpMessage {
  headers: Record<string, string>;
  body: string;
}

export type ContentMode = 'binary' | 'structured';

export class CloudEventEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudEventEncodingError';
  }
}

export interface CloudEventOptions {
  /** Prepended to the event type with a dot; empty means the reversed source. */
  typePrefix?: string;
  /**
   * The trace the event was accepted in, as the CloudEvents distributed-tracing extension's
   * `traceparent` and `tracestate`: where the event started, never the current hop.
   */
  trace?: TraceContext;
}

export function toCloudEvent(event: RegistryEvent, options: CloudEventOptions = {}): CloudEvent {
  const prefix = options.typePrefix || defaultTypePrefix(event.source);
  const cloudEvent: CloudEvent = {
    specversion: SPEC_VERSION,
    id: event.id,
    source: event.source,
    type: prefix ? `${prefix}.${event.type}` : event.type,
    time: event.time,
    datacontenttype: JSON_CONTENT_TYPE,
    extensions: {},
    data: normalisedData(event),
  };
  const subject = eventSubject(event);
  if (subject !== undefined) cloudEvent.subject = subject;

  // Triggers filter on these, so they are attributes and not only fields of data.
  const extensions: Record<string, string | undefined> = {
    registry: event.registry,
    repo: event.repo,
    tag: event.tag,
    digest: event.digest,
    kind: event.kind,
    change: event.tagChange,
    previousdigest: event.previousDigest,
    subjectdigest: event.subject?.digest,
    subjecttag: event.subject?.tag,
    platforms: event.platforms?.join(','),
    parts: event.parts?.toString(),
    traceparent: options.trace?.traceparent,
    tracestate: options.trace?.tracestate,
  };
  for (const [name, value] of Object.entries(extensions)) {
    if (value !== undefined && value !== '') cloudEvent.extensions[name] = value;
  }
  return cloudEvent;
}

/**
 * Reverse-DNS form of a source, as CloudEvents types are conventionally written:
 * `brigade.sh/acr` → `sh.brigade.acr`, `https://example.com:8443/a/b` → `com.example.a.b`.
 */
export function defaultTypePrefix(source: string): string {
  const withoutScheme = source.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const [authority = '', ...path] = withoutScheme.split('/');
  const host = authority.replace(/^.*@/, '').replace(/:\d+$/, '');
  const hostLabels = host.split('.').filter(Boolean).reverse();
  return [...hostLabels, ...path.filter(Boolean)].join('.');
}

/** `<repo>:<tag>`, else `<repo>@<digest>`, else the repo; none for repository-less events. */
export function eventSubject(event: RegistryEvent): string | undefined {
  if (!event.repo) return undefined;
  if (event.tag) return `${event.repo}:${event.tag}`;
  if (event.digest) return `${event.repo}@${event.digest}`;
  return event.repo;
}

/** The fields that have a value, in the order given: absent optional fields stay absent. */
function presentFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** The normalised event, fields in a fixed order, with the sender's body inside as `payload`. */
function normalisedData(event: RegistryEvent): Record<string, unknown> {
  const { id, provider, source, type, registry, repo, tag, digest } = event;
  const { kind, subject, platforms, tagChange, previousDigest, parts } = event;
  return {
    ...presentFields({ id, provider, source, type, registry, repo, tag, digest }),
    ...presentFields({ kind, subject, platforms, tagChange, previousDigest, parts }),
    time: event.time,
    payload: event.payload,
  };
}

export function isValidExtensionName(name: string): boolean {
  return EXTENSION_NAME.test(name) && !CORE_ATTRIBUTES.has(name);
}

function checkExtensionNames(cloudEvent: CloudEvent): void {
  for (const name of Object.keys(cloudEvent.extensions)) {
    if (!isValidExtensionName(name)) {
      throw new CloudEventEncodingError(
        `extension attribute name ${JSON.stringify(name)} is not allowed: ` +
          'CloudEvents names are [a-z0-9] only and may not reuse a core attribute',
      );
    }
  }
}

/**
 * Binary content mode: attributes as `ce-` headers, the data as the body with its own
 * Content-Type (datacontenttype travels as Content-Type, never as `ce-datacontenttype`).
 */
export function encodeBinary(cloudEvent: CloudEvent): CloudEventHttpMessage {
  checkExtensionNames(cloudEvent);
  const attributes: Record<string, string | undefined> = {
    specversion: cloudEvent.specversion,
    id: cloudEvent.id,
    source: cloudEvent.source,
    type: cloudEvent.type,
    subject: cloudEvent.subject,
    time: cloudEvent.time,
    ...cloudEvent.extensions,
  };
  const headers: Record<string, string> = { 'Content-Type': cloudEvent.datacontenttype };
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) headers[`ce-${name}`] = encodeHeaderValue(value);
  }
  return { headers, body: JSON.stringify(cloudEvent.data) };
}

/** Structured content mode: the whole event in the JSON event format, extensions at top level. */
export function encodeStructured(cloudEvent: CloudEvent): CloudEventHttpMessage {
  checkExtensionNames(cloudEvent);
  return {
    headers: { 'Content-Type': STRUCTURED_CONTENT_TYPE },
    body: JSON.stringify(toJsonFormat(cloudEvent)),
  };
}

export function encode(cloudEvent: CloudEvent, mode: ContentMode): CloudEventHttpMessage {
  return mode === 'structured' ? encodeStructured(cloudEvent) : encodeBinary(cloudEvent);
}

/** The CloudEvents JSON event format: one flat object. */
export function toJsonFormat(cloudEvent: CloudEvent): Record<string, unknown> {
  const { specversion, id, source, type, subject, time, datacontenttype } = cloudEvent;
  return {
    ...presentFields({ specversion, id, source, type, subject, time }),
    datacontenttype,
    ...cloudEvent.extensions,
    data: cloudEvent.data,
  };
}

/**
 * HTTP binding §3.1.3.2: space, `"`, `%` and anything outside printable ASCII are written as
 * `%XX` of their UTF-8 bytes, so any string survives a header and decodes back exactly.
 */
export function encodeHeaderValue(value: string): string {
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const printable = byte >= 0x21 && byte <= 0x7e && byte !== 0x22 && byte !== 0x25;
    encoded += printable ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}
