import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { asObject, describe, Fields } from './fields';
import { parseImageReference, type ImageReference } from './image-reference';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

const ACTIONS: ReadonlyMap<string, EventType> = new Map([
  ['INSERT', 'push'],
  ['DELETE', 'delete'],
]);

/** Standard base64 as Pub/Sub writes `message.data`; Node's decoder would skip anything else silently. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Google Artifact Registry (and Container Registry) notifications, delivered by a Pub/Sub push
 * subscription on the `gcr` topic: an envelope `{message: {data, messageId, publishTime},
 * subscription}` whose `data` is the base64 of `{action, digest, tag}`, where `digest` and `tag`
 * are full image names (`us-west1-docker.pkg.dev/project/repo/image@sha256:…`).
 */
export class GarParser implements RegistryProvider {
  readonly name = 'gar';
  readonly title = 'Google Artifact Registry';
  readonly defaultSource = 'brigade.sh/gar';
  readonly mediaTypes = ['application/json'];
  /**
   * Pub/Sub redelivers every message not answered 2xx until it expires (seven days by default),
   * and slows the whole subscription while an endpoint keeps failing: a message that can never
   * be read is acknowledged (and logged and counted as rejected) instead.
   */
  readonly refusedStatus = 200;

  matches(request: InboundRequest): boolean {
    const message = asObject(asObject(request.body)?.message);
    return typeof message?.data === 'string' && (message.messageId !== undefined || message.message_id !== undefined);
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: a Pub/Sub push is {"message": {...}, "subscription": ...}');
    }
    const root = new Fields(body);
    const message = root.object('message', true);
    // The JSON API spells them in camelCase; the snake_case twins appear beside them.
    const id = message?.string('messageId') ?? message?.string('message_id');
    if (message && id === undefined) message.fail(`${message.path('messageId')} is required`);
    const time = message?.timestamp('publishTime') ?? message?.timestamp('publish_time');
    const data = message ? decodeData(message) : undefined;
    root.check();

    const action = data!.requiredString('action');
    const type = ACTIONS.get(action);
    if (action && !type) {
      return {
        kind: 'ignored',
        reason: `Artifact Registry action ${JSON.stringify(action)} is not one the gateway forwards (INSERT, DELETE)`,
      };
    }
    const byDigest = reference(data!, 'digest', 'digest');
    const byTag = reference(data!, 'tag', 'tag');
    if (byDigest === undefined && byTag === undefined && root.errors.length === 0) {
      data!.fail(`${data!.path('digest')} or ${data!.path('tag')} is required`);
    }
    if (byDigest && byTag && (byDigest.host !== byTag.host || byDigest.repository !== byTag.repository)) {
      data!.fail(`${data!.path('digest')} and ${data!.path('tag')} name different images`);
    }
    root.check();
    const image = (byTag ?? byDigest)!;
    const event: RegistryEvent = {
      id: id!,
      provider: this.name,
      source: context.source,
      type: type!,
      registry: context.registry.resolve(image.host, data!.path(byTag ? 'tag' : 'digest')),
      repo: image.repository,
      time: time ?? new Date().toISOString(),
      payload: request.body,
    };
    if (byTag?.tag !== undefined) event.tag = byTag.tag;
    if (byDigest?.digest !== undefined) event.digest = byDigest.digest;
    return { kind: 'events', events: [event] };
  }
}

/** `message.data` decoded: base64, then JSON; a reader whose paths say where it came from. */
function decodeData(message: Fields): Fields | undefined {
  const encoded = message.requiredString('data');
  if (!encoded) return undefined;
  const path = message.path('data');
  if (!BASE64.test(encoded)) {
    message.fail(`${path} is not base64`);
    return undefined;
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    message.fail(`${path} does not decode to JSON: it is not an Artifact Registry notification`);
    return undefined;
  }
  const object = asObject(decoded);
  if (!object) {
    message.fail(`${path} must decode to a JSON object {action, digest, tag}, got ${describe(decoded)}`);
    return undefined;
  }
  return new Fields(object, path, message.errors);
}

/** An image name in `key`, which must end in a digest or a tag as `part` says. */
function reference(data: Fields, key: string, part: 'digest' | 'tag'): ImageReference | undefined {
  const value = data.string(key);
  if (value === undefined) return undefined;
  const parsed = parseImageReference(value);
  if ('problem' in parsed) data.fail(`${data.path(key)} ${JSON.stringify(value)} ${parsed.problem}`);
  else if (parsed[part] === undefined)
    data.fail(`${data.path(key)} ${JSON.stringify(value)} does not end in a ${part}`);
  else return parsed;
  return undefined;
}
