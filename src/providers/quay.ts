import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { derivedId } from './derived-id';
import { asObject, describe, Fields } from './fields';
import { isTag } from './identifiers';
import { parseImageReference } from './image-reference';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** One event to emit: the tag, and what besides the repository identifies it for the derived id. */
interface TagEvent {
  tag: string;
  identity: unknown;
}

/**
 * Quay (quay.io, Red Hat Quay) repository notifications sent by the webhook method. The body
 * does not name its event; the shape does: `updated_tags` is a push, `build_id` a Dockerfile
 * build, `vulnerability` a security-scanner finding.
 */
export class QuayParser implements RegistryProvider {
  readonly name = 'quay';
  readonly title = 'Quay';
  readonly defaultSource = 'brigade.sh/quay';
  readonly mediaTypes = ['application/json'];

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return typeof body?.docker_url === 'string' && typeof body.repository === 'string';
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: a Quay notification has "repository" and "docker_url"');
    }
    const root = new Fields(body);
    if (root.has('build_id')) {
      // A successful build pushes its tags, and that push is notified as repo_push: forwarding
      // the build too would trigger every subscriber twice.
      return { kind: 'ignored', reason: 'Quay build notification (its pushed tags arrive as repo_push)' };
    }
    const type: EventType = root.has('vulnerability') ? 'scan_completed' : 'push';
    const tags = type === 'push' ? updatedTags(root, context) : vulnerableTags(root);
    const url = root.requiredString('docker_url');
    const image = url ? parseImageReference(url) : undefined;
    if (image && 'problem' in image) root.fail(`${root.path('docker_url')} ${JSON.stringify(url)} ${image.problem}`);
    root.check();
    if (!image || 'problem' in image) throw new PayloadError([...root.errors]);
    if (tags.length === 0) return { kind: 'ignored', reason: `Quay ${type} notification names no tag` };

    const registry = context.registry.resolve(image.host, root.path('docker_url'));
    const events = tags.map(({ tag, identity }): RegistryEvent => ({
      id: derivedId('quay', [type, url, tag, identity]),
      provider: this.name,
      source: context.source,
      type,
      registry,
      repo: image.repository,
      tag,
      time: new Date().toISOString(),
      payload: request.body,
    }));
    return { kind: 'events', events };
  }
}

/**
 * repo_push: `updated_tags` is a list of tag names, or (the older form) a map of tag name to
 * image id. The map's image id tells two pushes of one tag apart; the list names nothing that
 * does, so there each request is its own event (a retried delivery is then a second event,
 * rather than a second push being taken for a retry and dropped).
 */
function updatedTags(root: Fields, context: ParseContext): TagEvent[] {
  const value = root.raw('updated_tags');
  if (value === undefined || value === null) {
    root.fail(`${root.path('updated_tags')} is required (a Quay repo_push names the tags it updated)`);
    return [];
  }
  if (Array.isArray(value)) {
    return tagNames(root, 'updated_tags', value).map((tag) => ({ tag, identity: context.requestId ?? null }));
  }
  const map = asObject(value);
  if (!map) {
    root.fail(
      `${root.path('updated_tags')} must be a list of tags or a map of tag to image id, got ${describe(value)}`,
    );
    return [];
  }
  return tagNames(root, 'updated_tags', Object.keys(map)).map((tag) => ({ tag, identity: map[tag] ?? null }));
}

/** vulnerability_found: one scan result per tag the finding was reported for. */
function vulnerableTags(root: Fields): TagEvent[] {
  const vulnerability = root.object('vulnerability');
  const id = vulnerability?.requiredString('id');
  const value = root.raw('tags');
  if (!Array.isArray(value)) {
    root.fail(`${root.path('tags')} must be a list of the tags the vulnerability was found in, got ${describe(value)}`);
    return [];
  }
  return tagNames(root, 'tags', value).map((tag) => ({ tag, identity: id ?? null }));
}

function tagNames(root: Fields, key: string, values: readonly unknown[]): string[] {
  const tags: string[] = [];
  values.forEach((value, index) => {
    if (typeof value === 'string' && isTag(value)) tags.push(value);
    else root.fail(`${root.path(key)}[${index}] ${JSON.stringify(value) ?? 'undefined'} is not a tag`);
  });
  return tags;
}
