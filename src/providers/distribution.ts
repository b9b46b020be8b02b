import Joi from 'joi';
import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { kindOfManifest } from './artifact';
import { asObject, Fields } from './fields';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** `providers.distribution` in the config. */
export interface DistributionOptions {
  /** Manifest pulls are noise for most subscribers, so they are forwarded only on request. */
  emitPulls: boolean;
}

/** Blob descriptors in Distribution's events carry this media type; manifests carry their own. */
const BLOB_MEDIA_TYPE = 'application/octet-stream';

/**
 * CNCF Distribution (registry:2, and registries built on it) notifications: an envelope
 * `{"events": [...]}` that may batch several events.
 *
 * What the registry's notification bridge writes (distribution 2.8 `notifications/bridge.go`):
 * - manifest push/pull: `mediaType`, `digest`, `size`, `repository`, `url` (`.../manifests/...`),
 *   and `tag` when the manifest was pushed or pulled by tag;
 * - blob push/pull/mount: the blob descriptor (`mediaType` application/octet-stream) and a
 *   `url` (`.../blobs/...`); mounts add `fromRepository`;
 * - manifest delete: only `digest` and `repository`, no `mediaType` or `url`;
 * - tag delete (sent for each tag of a deleted manifest): only `tag` and `repository`;
 * - repository delete: only `repository`.
 * A blob delete (`DELETE /v2/<name>/blobs/<digest>`) is written exactly like a manifest delete,
 * so the two cannot be told apart; it is forwarded as a delete. Garbage collection sends no
 * notifications, so in practice such deletes come from a client deleting a manifest.
 */
export class DistributionParser implements RegistryProvider<DistributionOptions> {
  readonly name = 'distribution';
  readonly title = 'CNCF Distribution';
  readonly defaultSource = 'brigade.sh/distribution';
  /** The envelope type of the notification bridge; newer releases send v2. */
  readonly mediaTypes = [
    'application/vnd.docker.distribution.events.v1+json',
    'application/vnd.docker.distribution.events.v2+json',
  ];
  readonly options = Joi.object<DistributionOptions, true>({ emitPulls: Joi.boolean().default(false) });

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return body !== undefined && Array.isArray(body.events);
  }

  parse(request: InboundRequest, context: ParseContext<DistributionOptions>): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: a Distribution notification is {"events": [...]}');
    }
    const envelope = new Fields(body);
    const entries = envelope.objects('events', true);
    if (Array.isArray(body.events) && body.events.length === 0) {
      envelope.fail(`${envelope.path('events')} is empty: a notification carries at least one event`);
    }
    envelope.check();

    const emitPulls = context.options.emitPulls;
    const ignored: string[] = [];
    const readable: { event: Fields; type: EventType; payload: unknown }[] = [];
    entries.forEach((event, index) => {
      const action = event.requiredString('action');
      if (action === '') return; // reported by check() below
      const outcome = classify(action, event.object('target'), emitPulls);
      if ('ignored' in outcome) ignored.push(outcome.ignored);
      else readable.push({ event, type: outcome.type, payload: (body.events as unknown[])[index] });
    });

    const drafts = readable.map(({ event, type, payload }) => {
      const target = event.object('target', true);
      return {
        id: event.requiredString('id'),
        type,
        repo: target?.repository('repository', true),
        tag: target?.tag('tag'),
        digest: target?.digest('digest'),
        kind: kindOfManifest(target?.string('mediaType')),
        time: event.timestamp('timestamp'),
        host: event.object('request')?.string('host'),
        hostField: event.path('request.host'),
        payload,
      };
    });
    envelope.check();

    if (drafts.length === 0) {
      const reasons = [...new Set(ignored)].join('; ');
      return { kind: 'ignored', reason: `no manifest event to forward: ${reasons}` };
    }
    const events = drafts.map((draft): RegistryEvent => {
      const event: RegistryEvent = {
        id: draft.id,
        provider: this.name,
        source: context.source,
        type: draft.type,
        registry: context.registry.resolve(draft.host, draft.hostField),
        time: draft.time ?? new Date().toISOString(),
        payload: draft.payload,
      };
      if (draft.repo !== undefined) event.repo = draft.repo;
      if (draft.tag !== undefined) event.tag = draft.tag;
      if (draft.digest !== undefined) event.digest = draft.digest;
      if (draft.kind !== undefined) event.kind = draft.kind;
      return event;
    });
    return { kind: 'events', events };
  }
}

/** Decides from `action` and the target's shape whether an event is forwarded, and as what. */
function classify(
  action: string,
  target: Fields | undefined,
  emitPulls: boolean,
): { type: EventType } | { ignored: string } {
  if (action === 'mount') return { ignored: 'blob mount' };
  if (isBlob(target)) return { ignored: `blob ${action}` };
  switch (action) {
    case 'push':
      return { type: 'push' };
    case 'pull':
      return emitPulls ? { type: 'pull' } : { ignored: 'manifest pull (providers.distribution.emitPulls is off)' };
    case 'delete':
      return target?.has('digest') || target?.has('tag')
        ? { type: 'delete' }
        : { ignored: 'repository delete (names no manifest or tag)' };
    default:
      return { ignored: `action ${JSON.stringify(action)}` };
  }
}

/** The URL says which endpoint the content lives at; without one, blob descriptors say octet-stream. */
function isBlob(target: Fields | undefined): boolean {
  const url = target?.string('url');
  if (url !== undefined && url.includes('/manifests/')) return false;
  if (url !== undefined && url.includes('/blobs/')) return true;
  return target?.string('mediaType') === BLOB_MEDIA_TYPE;
}
