import { createHash } from 'node:crypto';
import type { RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { kindOfManifest, platformList, platformName } from './artifact';
import { canonicalJson } from './derived-id';
import { asObject, Fields } from './fields';
import { isRepository } from './identifiers';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** `package` is today's event name; `registry_package` the older one GitHub still sends. */
const PACKAGE_EVENTS = ['package', 'registry_package'];

/** A version published, or an existing one given another tag: both mean the tag now names an image. */
const PUSH_ACTIONS = ['published', 'updated'];

const EVENT_HEADER = 'x-github-event';
const DELIVERY_HEADER = 'x-github-delivery';

/** GitHub writes `0001-01-01T00:00:00Z` where a container version has no time of its own. */
const UNSET_TIME = /^0001-/;

/**
 * GitHub Container Registry: `package` (and legacy `registry_package`) webhook deliveries of an
 * organisation or repository. The event name and the delivery id travel in headers; the body's
 * top-level key repeats the event name, which is how a delivery is recognised without them.
 */
export class GhcrParser implements RegistryProvider {
  readonly name = 'ghcr';
  readonly title = 'GitHub Container Registry';
  readonly defaultSource = 'brigade.sh/ghcr';
  readonly mediaTypes = ['application/json'];
  readonly headers = [EVENT_HEADER, DELIVERY_HEADER];

  /**
   * The event name is the body's top-level key. GitHub gives each delivery a fresh GUID and its
   * Redeliver button resends the same one; here it is drawn from the body, so posting one file
   * twice is a redelivery, deduplicated like a registry's retry.
   */
  sendHeaders(body: unknown): Record<string, string> {
    const object = asObject(body);
    const event = PACKAGE_EVENTS.find((key) => asObject(object?.[key])) ?? PACKAGE_EVENTS[0];
    const hex = createHash('sha256').update(canonicalJson(body)).digest('hex');
    const guid = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-');
    return { [EVENT_HEADER]: event, [DELIVERY_HEADER]: guid };
  }

  matches(request: InboundRequest): boolean {
    if (request.headers[EVENT_HEADER] !== undefined) return true;
    const body = asObject(request.body);
    return PACKAGE_EVENTS.some((key) => asObject(asObject(body?.[key])?.package_version) !== undefined);
  }

  parse(request: InboundRequest, context: ParseContext): ParseOutcome {
    const body = asObject(request.body);
    const event = request.headers[EVENT_HEADER] ?? PACKAGE_EVENTS.find((key) => asObject(body?.[key]));
    if (event === 'ping') return { kind: 'ignored', reason: 'GitHub ping' };
    if (event !== undefined && !PACKAGE_EVENTS.includes(event)) {
      return {
        kind: 'ignored',
        reason: `GitHub event ${JSON.stringify(event)} is not a package event the gateway forwards (package, registry_package)`,
      };
    }
    if (!body || event === undefined) {
      throw new PayloadError(
        'body must be a GitHub package webhook: a JSON object with "action" and "package" (or ' +
          '"registry_package"), sent with the X-GitHub-Event header',
      );
    }
    const root = new Fields(body);
    const action = root.requiredString('action');
    const pkg = root.object(event, true);
    root.check();
    if (!PUSH_ACTIONS.includes(action)) {
      return {
        kind: 'ignored',
        reason: `GitHub package action ${JSON.stringify(action)} is not one the gateway forwards (published, updated)`,
      };
    }
    const kind = pkg!.string('package_type') ?? pkg!.string('ecosystem');
    if (kind?.toLowerCase() === 'docker' && isPackageRegistry(pkg!)) {
      return { kind: 'events', events: [readPackageRegistryVersion(pkg!, request, context)] };
    }
    if (kind?.toLowerCase() !== 'container') {
      return {
        kind: 'ignored',
        reason: `GitHub package ${JSON.stringify(pkg!.string('name') ?? '')} has package_type ${JSON.stringify(kind ?? null)}: not a container image`,
      };
    }
    return { kind: 'events', events: [readContainerVersion(pkg!, request, context)] };
  }
}

function readContainerVersion(pkg: Fields, request: InboundRequest, context: ParseContext): RegistryEvent {
  const name = pkg.requiredString('name');
  const owner = pkg.object('owner')?.string('login') ?? pkg.requiredString('namespace');
  // GHCR names images in lower case whatever the case of the owner's login.
  const repo = `${owner}/${name}`.toLowerCase();
  if (name && owner && !isRepository(repo)) {
    pkg.fail(`${pkg.path('name')} ${JSON.stringify(name)} of ${JSON.stringify(owner)} is not an image name (${repo})`);
  }
  const metadata = pkg.object('package_version', true)?.object('container_metadata', true);
  const tagged = metadata?.object('tag');
  const tag = tagged?.tag('name');
  const digest = tagged?.has('digest') ? tagged.digest('digest') : metadata?.object('manifest')?.digest('digest');
  const manifest = metadata?.object('manifest');
  const kind = kindOfManifest(manifest?.string('media_type'), manifest?.object('config')?.string('media_type'));
  const platforms = labelledPlatforms(metadata?.object('labels')?.raw('all_labels'));
  const updated = pkg.timestamp('updated_at');
  const id = deliveryId(pkg, request);
  pkg.check();

  const event: RegistryEvent = {
    id: id!,
    provider: 'ghcr',
    source: context.source,
    type: 'push',
    registry: context.registry.resolve('ghcr.io', 'ghcr.io'),
    repo,
    time: updated !== undefined && !UNSET_TIME.test(updated) ? updated : new Date().toISOString(),
    payload: request.body,
  };
  if (tag !== undefined) event.tag = tag;
  if (digest !== undefined) event.digest = digest;
  if (kind !== undefined) event.kind = kind;
  if (platforms !== undefined) event.platforms = platforms;
  return event;
}

/**
 * GHCR lists an index's platforms in the `github.internal.platforms` label, a JSON string of
 * `{digest, architecture, os}` entries. A label that does not read as that names no platforms:
 * it is GitHub's bookkeeping, not the sender's claim, so it never fails the delivery.
 */
/** X-GitHub-Delivery, the id GitHub gives each delivery and keeps on a redelivery: the event id. */
function deliveryId(pkg: Fields, request: InboundRequest): string | undefined {
  const id = request.headers[DELIVERY_HEADER];
  if (id === undefined || id === '') {
    pkg.fail('the X-GitHub-Delivery header is required: it is the id GitHub gives each delivery');
  }
  return id;
}

function labelledPlatforms(labels: unknown): string[] | undefined {
  const text = asObject(labels)?.['github.internal.platforms'];
  if (typeof text !== 'string') return undefined;
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(entries)) return undefined;
  return platformList(entries.map((entry) => platformName(asObject(entry) ?? {})));
}

/** The GitHub Package Registry's docker host, before GHCR; GitHub Enterprise Server still sends it. */
const PACKAGE_REGISTRY_HOST = 'docker.pkg.github.com';

/** `registry.url` is `https://docker.pkg.github.com/<owner>/<repository>` in the older form. */
function isPackageRegistry(pkg: Fields): boolean {
  const url = pkg.object('registry')?.string('url');
  return url !== undefined && hostOfUrl(url) === PACKAGE_REGISTRY_HOST;
}

function hostOfUrl(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The earlier GitHub Package Registry form of `registry_package`: `package_type: docker`, no
 * `container_metadata`. Images there are `docker.pkg.github.com/<owner>/<repository>/<name>`,
 * the tag is `package_version.version`, and the only digest is inside the manifest text, whose
 * bytes as GitHub stored them are not what the payload shows: so the event names no digest.
 */
function readPackageRegistryVersion(pkg: Fields, request: InboundRequest, context: ParseContext): RegistryEvent {
  const name = pkg.requiredString('name');
  const registry = pkg.object('registry', true);
  const url = registry?.requiredString('url') ?? '';
  const path = hostOfUrl(url) === undefined ? '' : new URL(url).pathname.replace(/^\/+|\/+$/g, '');
  const repo = `${path}/${name}`.toLowerCase();
  if (path === '' || !isRepository(repo)) {
    pkg.fail(
      `${registry?.path('url') ?? pkg.path('registry.url')} and ${pkg.path('name')} do not name an image (${repo})`,
    );
  }
  const version = pkg.object('package_version', true);
  const tag = version?.tag('version');
  const id = deliveryId(pkg, request);
  const updated = version?.timestamp('updated_at') ?? pkg.timestamp('updated_at');
  pkg.check();

  const event: RegistryEvent = {
    id: id!,
    provider: 'ghcr',
    source: context.source,
    type: 'push',
    registry: context.registry.resolve(PACKAGE_REGISTRY_HOST, registry!.path('url')),
    repo,
    time: updated ?? new Date().toISOString(),
    payload: request.body,
  };
  if (tag !== undefined) event.tag = tag;
  const kind = kindOfManifest(manifestMediaType(version?.string('manifest')));
  if (kind !== undefined) event.kind = kind;
  return event;
}

/** The `mediaType` of the manifest text the older form carries; undefined when it does not read. */
function manifestMediaType(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const mediaType = asObject(JSON.parse(text))?.mediaType;
    return typeof mediaType === 'string' ? mediaType : undefined;
  } catch {
    return undefined;
  }
}
