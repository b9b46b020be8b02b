import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { readAcrEvent } from './acr';
import { asObject, describe, Fields } from './fields';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider, RegistryResolver } from './types';

const CONTAINER_REGISTRY_PREFIX = 'Microsoft.ContainerRegistry.';

/**
 * Event Grid's ACR event types (without the prefix) and what they mean (docs/registries.md, Event vocabulary). The
 * 2019 documentation shows these bare names as `eventType`, so they are accepted alone too.
 */
const CONTAINER_REGISTRY_TYPES: ReadonlyMap<string, EventType> = new Map([
  ['ImagePushed', 'push'],
  ['ImageDeleted', 'delete'],
  ['ChartPushed', 'chart_push'],
  ['ChartDeleted', 'chart_delete'],
]);

const SUBSCRIPTION_VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** Structured-mode media types; with any other, `ce-*` headers mean binary mode. */
const STRUCTURED_MEDIA_TYPES = ['application/cloudevents+json', 'application/cloudevents-batch+json'];

/** An ACR registry name: what `.../registries/<name>` must hold to give `<name>.azurecr.io`. */
const ACR_NAME = /^[a-z0-9]{5,50}$/i;
const ARM_REGISTRY = /\/registries\/([^/]+)\/?$/i;

/** One event's envelope, from whichever of the three Event Grid forms it arrived in. */
interface Envelope {
  /** Reader of the envelope (or of the headers, in binary mode), for paths in messages. */
  fields: Fields;
  typeField: string;
  rawType: string;
  /** The ARM resource id (`topic` / `source`) and where it was read. */
  armId: string | undefined;
  armField: string;
  /** Reads the rest, once the type says the event is worth it. */
  details(): { id: string; time: string | undefined; data: Fields | undefined };
  payload: unknown;
}

/**
 * ACR events delivered by Azure Event Grid: the Event Grid schema (a JSON array of events; a
 * single bare event, as the REST spec examples show, is read the same way) or CloudEvents 1.0,
 * structured (also batched) or binary. The ACR data inside is the native webhook body.
 */
export class EventGridParser implements RegistryProvider {
  readonly name = 'eventgrid';
  readonly title = 'Azure Event Grid';
  /** The events are ACR's, so one Brigade subscription covers ACR direct and through Event Grid. */
  readonly defaultSource = 'brigade.sh/acr';
  readonly defaultRegistryFallback = 'acr';
  /** The Event Grid schema is plain JSON; CloudEvents come structured, batched or binary. */
  readonly mediaTypes = ['application/json', ...STRUCTURED_MEDIA_TYPES];
  /** CloudEvents binary mode carries the attributes in `ce-*` headers. */
  readonly headers = ['ce-*'];

  matches(request: InboundRequest): boolean {
    if (isBinaryMode(request)) return isContainerRegistryType(request.headers['ce-type']);
    const body = request.body;
    if (Array.isArray(body)) return body.length > 0 && body.every(isEventGridShaped);
    return isEventGridShaped(body);
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const envelopes = readEnvelopes(request);
    const events: RegistryEvent[] = [];
    const ignored: string[] = [];
    for (const envelope of envelopes) {
      if (envelope.rawType === SUBSCRIPTION_VALIDATION) return validationReply(envelope);
      const outcome = this.readEvent(envelope, context);
      if ('ignored' in outcome) ignored.push(outcome.ignored);
      else events.push(outcome);
    }
    if (events.length > 0) return { kind: 'events', events };
    return { kind: 'ignored', reason: [...new Set(ignored)].join('; ') };
  }

  private readEvent(envelope: Envelope, context: ParseContext): RegistryEvent | { ignored: string } {
    const { fields, rawType } = envelope;
    fields.check();
    const expected = containerRegistryType(rawType);
    if (expected === undefined) {
      return {
        ignored: `Event Grid event type ${JSON.stringify(rawType)} is not an ACR event the gateway forwards`,
      };
    }
    const { id, time, data } = envelope.details();
    if (!data) throw new PayloadError([...fields.errors]);
    const result = readAcrEvent(data, withArmIdExplained(context, envelope), {
      provider: this.name,
      id,
      time,
      registryHint: { host: registryHostOfArmId(envelope.armId), field: data.path('request.host') },
      payload: envelope.payload,
    });
    if ('ignored' in result) return result;
    if (result.type !== expected) {
      throw new PayloadError(
        `${data.path('action')} ${JSON.stringify(result.type)} contradicts ` +
          `${envelope.typeField} ${JSON.stringify(rawType)}`,
      );
    }
    return result;
  }
}

function readEnvelopes(request: InboundRequest): Envelope[] {
  if (isBinaryMode(request)) return [binaryEnvelope(request)];
  const body = request.body;
  const errors: string[] = [];
  if (Array.isArray(body)) {
    if (body.length === 0) {
      throw new PayloadError('body is an empty array: Event Grid delivers at least one event');
    }
    const envelopes: Envelope[] = [];
    body.forEach((item, index) => {
      const object = asObject(item);
      if (object) envelopes.push(structuredEnvelope(new Fields(object, `[${index}]`, errors), object));
      else errors.push(`[${index}] must be an object, got ${describe(item)}`);
    });
    if (errors.length > 0) throw new PayloadError(errors);
    return envelopes;
  }
  const object = asObject(body);
  if (!object) {
    throw new PayloadError(
      'body must be an Event Grid event array, a CloudEvent, or (binary mode, with ce-* headers) ' +
        'the ACR event data',
    );
  }
  return [structuredEnvelope(new Fields(object, '', errors), object)];
}

function structuredEnvelope(fields: Fields, object: Record<string, unknown>): Envelope {
  return isCloudEvent(object) ? cloudEventEnvelope(fields, object) : eventGridEnvelope(fields, object);
}

/** Event Grid schema: `id`, `topic`, `subject`, `eventType`, `eventTime`, `data`, versions. */
function eventGridEnvelope(fields: Fields, object: Record<string, unknown>): Envelope {
  return {
    fields,
    typeField: fields.path('eventType'),
    rawType: fields.requiredString('eventType'),
    armId: fields.string('topic'),
    armField: fields.path('topic'),
    details: () => ({
      id: fields.requiredString('id'),
      time: fields.timestamp('eventTime'),
      data: fields.object('data', true),
    }),
    payload: object,
  };
}

/**
 * CloudEvents 1.0 structured mode. Microsoft's own `image_deleted` example spells the attribute
 * `specVersion`; CloudEvents attribute names are lower-case, so that is a typo in the example,
 * but one copied into real handlers is cheap to accept: `specVersion` is read when
 * `specversion` is absent, and nothing else about the event changes.
 */
function cloudEventEnvelope(fields: Fields, object: Record<string, unknown>): Envelope {
  requireSpecVersion(fields, 'specversion' in object ? 'specversion' : 'specVersion');
  return {
    fields,
    typeField: fields.path('type'),
    rawType: fields.requiredString('type'),
    armId: fields.string('source'),
    armField: fields.path('source'),
    details: () => ({
      id: fields.requiredString('id'),
      time: fields.timestamp('time'),
      data: fields.object('data', true),
    }),
    payload: object,
  };
}

/** CloudEvents binary mode: attributes in `ce-*` headers, the body is `data` itself. */
function binaryEnvelope(request: InboundRequest): Envelope {
  const errors: string[] = [];
  const headers = new Fields(request.headers, 'headers', errors);
  requireSpecVersion(headers, 'ce-specversion');
  return {
    fields: headers,
    typeField: headers.path('ce-type'),
    rawType: headers.requiredString('ce-type'),
    armId: headers.string('ce-source'),
    armField: headers.path('ce-source'),
    details: () => {
      const body = asObject(request.body);
      if (!body) errors.push('body must be the ACR event data (a JSON object) in CloudEvents binary mode');
      return {
        id: headers.requiredString('ce-id'),
        time: headers.timestamp('ce-time'),
        data: body ? new Fields(body, '', errors) : undefined,
      };
    },
    payload: request.body,
  };
}

function requireSpecVersion(fields: Fields, key: string): void {
  const version = fields.requiredString(key);
  if (version && version !== '1.0') {
    fields.fail(`${fields.path(key)} ${JSON.stringify(version)} is not a CloudEvents version this gateway reads (1.0)`);
  }
}

function validationReply(envelope: Envelope): ParseOutcome {
  const data = envelope.fields.object('data', true);
  const code = data?.requiredString('validationCode');
  envelope.fields.check();
  return { kind: 'reply', status: 200, body: { validationResponse: code } };
}

/** `Microsoft.ContainerRegistry.ImagePushed` (or bare `ImagePushed`) → `push`; others undefined. */
function containerRegistryType(rawType: string): EventType | undefined {
  const name = rawType.startsWith(CONTAINER_REGISTRY_PREFIX)
    ? rawType.slice(CONTAINER_REGISTRY_PREFIX.length)
    : rawType;
  return CONTAINER_REGISTRY_TYPES.get(name);
}

/**
 * `.../providers/Microsoft.ContainerRegistry/registries/<name>` → `<name>.azurecr.io`. The REST
 * spec and docs examples hold placeholders (`{name}`, `<name>`) there; they are not registry
 * names, so they give nothing and the registry comes from the fallbacks or a 400.
 */
export function registryHostOfArmId(armId: string | undefined): string | undefined {
  const name = armId === undefined ? undefined : ARM_REGISTRY.exec(armId)?.[1];
  return name !== undefined && ACR_NAME.test(name) ? `${name.toLowerCase()}.azurecr.io` : undefined;
}

/**
 * Chart events carry no `request.host`, so when the ARM id names no registry either and no
 * fallback applies, the 400 says why the ARM id did not help, not just that the host is absent.
 */
function withArmIdExplained(context: ParseContext, envelope: Envelope): ParseContext {
  const registry: RegistryResolver = {
    resolve(raw, field) {
      try {
        return context.registry.resolve(raw, field);
      } catch (error) {
        if (raw !== undefined || !(error instanceof PayloadError)) throw error;
        const armProblem =
          envelope.armId === undefined
            ? `${envelope.armField} is missing`
            : `${envelope.armField} ${JSON.stringify(envelope.armId)} does not name an ACR registry ` +
              '(.../registries/<name>, where <name> is 5-50 letters or digits)';
        throw new PayloadError([armProblem, ...error.errors]);
      }
    },
  };
  return { ...context, registry };
}

function isBinaryMode(request: InboundRequest): boolean {
  return request.headers['ce-specversion'] !== undefined && !STRUCTURED_MEDIA_TYPES.includes(request.contentType ?? '');
}

function isCloudEvent(object: Record<string, unknown>): boolean {
  return 'specversion' in object || 'specVersion' in object;
}

function isContainerRegistryType(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith(CONTAINER_REGISTRY_PREFIX);
}

/**
 * An Event Grid schema event (any `eventType`: validation events too), or a CloudEvent whose
 * type is an ACR one; other CloudEvents (Harbor's) are left to their own provider.
 */
function isEventGridShaped(value: unknown): boolean {
  const object = asObject(value);
  if (!object) return false;
  if (isCloudEvent(object)) return isContainerRegistryType(object.type);
  return typeof object.eventType === 'string';
}
