import type { EventType, ProviderName, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { kindOfManifest } from './artifact';
import { asObject, Fields } from './fields';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** ACR webhook `action` values and what they mean in the normalised vocabulary (docs/registries.md, Event vocabulary). */
const ACR_ACTIONS: Readonly<Record<string, EventType>> = {
  push: 'push',
  delete: 'delete',
  quarantine: 'quarantine',
  chart_push: 'chart_push',
  chart_delete: 'chart_delete',
};

export interface AcrReadOptions {
  provider: ProviderName;
  /** The envelope's id where the ACR body travels inside one (Event Grid). */
  id?: string;
  time?: string;
  /** Where the registry comes from when `request.host` is absent (Event Grid's ARM id). */
  registryHint?: { host: string | undefined; field: string };
  payload: unknown;
}

/**
 * Reads one ACR event body (native webhook, or the `data` of an Event Grid event). Returns the
 * reason when the action is one the gateway acknowledges without emitting.
 */
export function readAcrEvent(
  f: Fields,
  context: ParseContext,
  options: AcrReadOptions,
): RegistryEvent | { ignored: string } {
  const action = f.requiredString('action');
  if (action === 'ping') return { ignored: 'ACR ping' };
  // Own keys only: an `action` of "constructor" must not find Object.prototype's.
  const type = Object.hasOwn(ACR_ACTIONS, action) ? ACR_ACTIONS[action] : undefined;
  if (action && !type)
    return { ignored: `ACR action ${JSON.stringify(action)} is not an event type the gateway forwards` };

  const id = options.id ?? f.requiredString('id');
  const target = f.object('target', true);
  const repo = target?.repository('repository', true);
  const tag = target?.tag('tag');
  const digest = target?.digest('digest');
  const kind = kindOfManifest(target?.string('mediaType'));
  const time = options.time ?? f.timestamp('timestamp');
  const request = f.object('request');
  const host = request?.string('host');
  f.check();
  // Unreachable once check() passed (a missing action is an error above); narrows the type.
  if (type === undefined) throw new PayloadError(`${f.path('action')} is required`);

  const registry =
    host !== undefined || !options.registryHint
      ? context.registry.resolve(host, f.path('request.host'))
      : context.registry.resolve(options.registryHint.host, options.registryHint.field);

  const event: RegistryEvent = {
    id,
    provider: options.provider,
    source: context.source,
    type,
    registry,
    time: time ?? new Date().toISOString(),
    payload: options.payload,
  };
  if (repo !== undefined) event.repo = repo;
  if (tag !== undefined) event.tag = tag;
  if (digest !== undefined) event.digest = digest;
  if (kind !== undefined) event.kind = kind;
  return event;
}

/** Azure Container Registry's native webhook: one JSON object per request. */
export class AcrParser implements RegistryProvider {
  readonly name = 'acr';
  readonly title = 'Azure Container Registry';
  readonly defaultSource = 'brigade.sh/acr';
  readonly mediaTypes = ['application/json'];

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return (
      body !== undefined &&
      typeof body.action === 'string' &&
      (body.action === 'ping' || asObject(body.target) !== undefined) &&
      !('specversion' in body) &&
      !('events' in body)
    );
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: an ACR webhook has "action", "target" and "request"');
    }
    const result = readAcrEvent(new Fields(body), context, {
      provider: this.name,
      payload: request.body,
    });
    return 'ignored' in result ? { kind: 'ignored', reason: result.ignored } : { kind: 'events', events: [result] };
  }
}
