import Joi from 'joi';
import type { EventType, RegistryEvent } from '../model/event';
import { PayloadError } from '../model/errors';
import { platformList, platformName } from './artifact';
import { derivedId } from './derived-id';
import { asObject, Fields } from './fields';
import { isDigest, isRepository } from './identifiers';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/** `providers.artifactory` in the config. */
export interface ArtifactoryOptions {
  /**
   * How docker clients name the platform's images: `repositoryPath` (`<host>/<repo-key>/<image>`,
   * JFrog Cloud's and the default) or `subdomain` (`<repo-key>.<host>/<image>`).
   */
  layout: 'repositoryPath' | 'subdomain';
}

/** Docker domain events; a promotion puts the tag into the target repository, which is a push there. */
const DOCKER_TYPES: ReadonlyMap<string, EventType> = new Map([
  ['pushed', 'push'],
  ['deleted', 'delete'],
  ['promoted', 'push'],
]);

/** Artifact domain events, forwarded only for docker manifests (moves and copies are not pushes). */
const ARTIFACT_TYPES: ReadonlyMap<string, EventType> = new Map([
  ['deployed', 'push'],
  ['deleted', 'delete'],
]);

/** Artifactory stores a tag as `<image>/<tag>/manifest.json` (or `list.manifest.json` for an index). */
const MANIFEST_FILES = ['manifest.json', 'list.manifest.json'];

/**
 * JFrog Artifactory webhooks (`domain`, `event_type`, `data`, `jpd_origin`). Docker domain
 * events name a tag; artifact domain events name a file, which is an image only when it is a
 * manifest under a docker repository's layout.
 */
export class ArtifactoryParser implements RegistryProvider<ArtifactoryOptions> {
  readonly name = 'artifactory';
  readonly title = 'JFrog Artifactory';
  readonly defaultSource = 'brigade.sh/artifactory';
  readonly mediaTypes = ['application/json'];
  readonly options = Joi.object<ArtifactoryOptions, true>({
    layout: Joi.string().valid('repositoryPath', 'subdomain').default('repositoryPath'),
  });

  matches(request: InboundRequest): boolean {
    const body = asObject(request.body);
    return typeof body?.domain === 'string' && typeof body.event_type === 'string' && asObject(body.data) !== undefined;
  }

  parse(request: InboundRequest, context: ParseContext<ArtifactoryOptions>): ParseOutcome {
    const body = asObject(request.body);
    if (!body) {
      throw new PayloadError('body must be a JSON object: a JFrog webhook has "domain", "event_type" and "data"');
    }
    const root = new Fields(body);
    const domain = root.requiredString('domain');
    const eventType = root.requiredString('event_type');
    const data = root.object('data', true);
    root.check();
    const path = data!.requiredString('path');
    const image = manifestPath(path);
    const types = domain === 'docker' ? DOCKER_TYPES : domain === 'artifact' ? ARTIFACT_TYPES : undefined;
    const type = types?.get(eventType);
    if (!types) {
      return { kind: 'ignored', reason: `JFrog domain ${JSON.stringify(domain)} is not one the gateway forwards` };
    }
    if (!type) {
      return {
        kind: 'ignored',
        reason: `JFrog ${domain} event ${JSON.stringify(eventType)} is not one the gateway forwards`,
      };
    }
    if (domain === 'artifact' && path && !image) {
      return { kind: 'ignored', reason: `JFrog artifact ${JSON.stringify(path)} is not a docker manifest` };
    }
    return { kind: 'events', events: [readImageEvent(root, data!, type, image, request, context)] };
  }
}

function readImageEvent(
  root: Fields,
  data: Fields,
  type: EventType,
  image: { name: string; tag: string } | undefined,
  request: InboundRequest,
  context: ParseContext<ArtifactoryOptions>,
): RegistryEvent {
  const repoKey = data.requiredString('repo_key');
  const named = data.tag('tag');
  // `image_name` is only the last path segment in JFrog Cloud's deliveries (`busybox` for
  // `foo/bar/busybox`), so the storage path names the image whenever it is a tag's manifest.
  const imageName = image && (named === undefined || image.tag === named) ? image.name : data.string('image_name');
  const tag = named ?? image?.tag;
  const sha256 = data.string('sha256');
  const digest = sha256 === undefined ? undefined : `sha256:${sha256}`;
  if (digest !== undefined && !isDigest(digest)) {
    data.fail(`${data.path('sha256')} ${JSON.stringify(sha256)} is not a SHA-256 digest (64 hex digits)`);
  }
  if (imageName === undefined) data.fail(`${data.path('image_name')} is required`);
  const subdomain = context.options.layout === 'subdomain';
  const repo = subdomain ? imageName : `${repoKey}/${imageName}`;
  if (imageName !== undefined && repoKey && !isRepository(repo ?? '')) {
    data.fail(`${JSON.stringify(repo)} (${subdomain ? 'image_name' : 'repo_key/image_name'}) is not a repository name`);
  }
  const platforms = readPlatforms(data);
  const origin = root.string('jpd_origin');
  const originHost = origin === undefined ? undefined : hostOf(origin);
  if (origin !== undefined && originHost === undefined) {
    root.fail(`${root.path('jpd_origin')} ${JSON.stringify(origin)} is not a URL`);
  }
  root.check();

  const event: RegistryEvent = {
    id: derivedId('artifactory', [
      root.raw('domain'),
      root.raw('event_type'),
      origin ?? null,
      repoKey,
      data.raw('path'),
      sha256 ?? null,
      tag ?? null,
    ]),
    provider: 'artifactory',
    source: context.source,
    type,
    registry: registryOf(originHost, repoKey, subdomain, context),
    repo: repo!,
    time: new Date().toISOString(),
    payload: request.body,
  };
  if (tag !== undefined) event.tag = tag;
  if (digest !== undefined) event.digest = digest;
  const file = (data.string('path') ?? '').split('/').pop();
  // Artifactory stores an index as `list.manifest.json` and an image as `manifest.json`.
  const kind = file === 'list.manifest.json' ? 'index' : file === 'manifest.json' ? 'image' : undefined;
  if (kind !== undefined) event.kind = kind;
  if (platforms !== undefined) event.platforms = platforms;
  return event;
}

/** `data.platforms` of docker events: `{architecture, os, variant}` per image of an index. */
function readPlatforms(data: Fields): string[] | undefined {
  return platformList(
    data
      .objects('platforms')
      .map((p) => platformName({ os: p.raw('os'), architecture: p.raw('architecture'), variant: p.raw('variant') })),
  );
}

/** `library/ubuntu/latest/list.manifest.json` → image `library/ubuntu`, tag `latest`; else undefined. */
function manifestPath(path: string): { name: string; tag: string } | undefined {
  const segments = path.split('/');
  if (segments.length < 3 || !MANIFEST_FILES.includes(segments[segments.length - 1])) return undefined;
  return { name: segments.slice(0, -2).join('/'), tag: segments[segments.length - 2] };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The platform's host from `jpd_origin`; older Artifactory versions send none, and then the
 * token's single registry or `defaultRegistry.artifactory` names the platform. In the subdomain
 * layout the repository key comes in front, unless the name given already starts with it (a
 * token scoped to one repository's registry).
 */
function registryOf(
  originHost: string | undefined,
  repoKey: string,
  subdomain: boolean,
  context: ParseContext<ArtifactoryOptions>,
): string {
  const host = context.registry.resolve(originHost, 'jpd_origin');
  const prefix = `${repoKey.toLowerCase()}.`;
  if (!subdomain || host.startsWith(prefix)) return host;
  return context.registry.resolve(`${prefix}${host}`, 'repo_key and jpd_origin');
}
