import { isDigest, isRegistryHost, isRepository, isTag } from './identifiers';

/** An image named as a docker client names it, with its registry: `host/repo[:tag][@digest]`. */
export interface ImageReference {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Splits and checks `host[:port]/path[:tag][@digest]`; the host is lower-cased. Returns what
 * is wrong with it instead, in words that follow the quoted value in a 400.
 */
export function parseImageReference(reference: string): ImageReference | { problem: string } {
  const at = reference.indexOf('@');
  const name = at < 0 ? reference : reference.slice(0, at);
  const digest = at < 0 ? undefined : reference.slice(at + 1);
  const slash = name.indexOf('/');
  if (slash <= 0) return { problem: 'does not name a registry host (host/repository)' };
  const host = name.slice(0, slash).toLowerCase();
  let repository = name.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(':');
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
  }
  if (!isRegistryHost(host)) return { problem: 'does not start with a registry host name' };
  if (!isRepository(repository)) return { problem: `does not name a repository (${JSON.stringify(repository)})` };
  if (tag !== undefined && !isTag(tag)) return { problem: `does not end in a tag (${JSON.stringify(tag)})` };
  if (digest !== undefined && !isDigest(digest)) {
    return { problem: `does not end in a digest (algorithm:hex), got ${JSON.stringify(digest)}` };
  }
  const image: ImageReference = { host, repository };
  if (tag !== undefined) image.tag = tag;
  if (digest !== undefined) image.digest = digest;
  return image;
}
