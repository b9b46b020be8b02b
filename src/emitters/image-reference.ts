import type { RegistryEvent } from '../model/event';

/**
 * Image repository names compared the way Flux's image reflector and Kargo's image subscriber
 * read them (both parse with go-containerregistry's reference rules): a first path segment with
 * no `.` or `:` that is not `localhost` is a Docker Hub path, so `nginx` is
 * `docker.io/library/nginx` and `me/app` is `docker.io/me/app`; `index.docker.io` and
 * `registry-1.docker.io` are Docker Hub's other names; a host is case-insensitive; a tag or a
 * digest is not part of the repository.
 */
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The repository a reference names (`host/path`, no tag, no digest), or undefined when it names none. */
export function normalisedRepository(reference: string): string | undefined {
  let text = reference.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const at = text.indexOf('@');
  if (at >= 0) text = text.slice(0, at);
  const lastSlash = text.lastIndexOf('/');
  const colon = text.indexOf(':', lastSlash + 1);
  if (colon >= 0) text = text.slice(0, colon);
  const segments = text.split('/').filter((s) => s !== '');
  if (segments.length === 0) return undefined;
  const first = segments[0];
  const hasHost = segments.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let host = hasHost ? first.toLowerCase() : DOCKER_HUB;
  const path = hasHost ? segments.slice(1) : segments;
  if (DOCKER_HUB_ALIASES.has(host)) host = DOCKER_HUB;
  if (host === DOCKER_HUB && path.length === 1) path.unshift('library');
  return `${host}/${path.join('/')}`;
}

/** The repository an event is about, normalised as above; undefined for events without one (quota...). */
export function eventRepository(event: RegistryEvent): string | undefined {
  if (!event.repo) return undefined;
  return normalisedRepository(`${event.registry}/${event.repo}`);
}
