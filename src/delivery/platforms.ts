import { readFileSync } from 'node:fs';
import axios, { type AxiosInstance } from 'axios';
import type { Logger } from 'pino';
import type { CollapseSettings, ManifestSource } from '../config/types';
import type { Emitter } from '../emitters/types';
import type { RegistryEvent } from '../model/event';
import type { RouteTarget } from './routing';

const INDEX_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** How long one index's platforms are kept: every target of one push asks within moments. */
const CACHE_MS = 60_000;
const CACHE_MAX = 1000;

/** buildx marks its attestation manifests in the index; they are not images of a platform. */
const REFERENCE_TYPE = 'vnd.docker.reference.type';

type ManifestSettings = CollapseSettings['manifests'];

/** The platforms an index lists, attestation manifests and `unknown/unknown` entries left out. */
export function platformsOfIndex(manifest: unknown): string[] | undefined {
  const entries = (manifest as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(entries)) return undefined;
  const platforms = new Set<string>();
  for (const entry of entries as { platform?: Record<string, unknown>; annotations?: Record<string, unknown> }[]) {
    if (entry?.annotations?.[REFERENCE_TYPE] !== undefined) continue;
    const { os, architecture, variant } = entry?.platform ?? {};
    if (typeof os !== 'string' || typeof architecture !== 'string') continue;
    if (os === 'unknown' || architecture === 'unknown') continue;
    platforms.add(
      typeof variant === 'string' && variant ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`,
    );
  }
  return platforms.size > 0 ? [...platforms] : undefined;
}

/**
 * Reads an index from its registry through the OCI distribution API to learn its platforms, for
 * registries whose webhooks do not name them. Only registries the config lists are ever asked,
 * at the endpoint the config gives: the payload's host is the sender's claim, and a token holder
 * must not be able to make the gateway call an address of its choosing. Bounded in time and
 * size; any failure means "platforms unknown", never a failed delivery.
 */
export class ManifestReader {
  private readonly http: AxiosInstance;
  private readonly sources: Map<string, ManifestSource>;
  private readonly cache = new Map<string, { at: number; platforms: Promise<string[] | undefined> }>();

  constructor(
    settings: ManifestSettings,
    private readonly logger?: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.sources = new Map(settings.registries.map((r) => [r.host.toLowerCase(), r]));
    this.http = axios.create({
      timeout: settings.timeoutMs,
      maxContentLength: settings.maxBytes,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: (data: unknown) => data,
    });
  }

  /** Whether an event is one this reader can add platforms to. */
  wants(event: RegistryEvent): boolean {
    return (
      event.type === 'push' &&
      event.platforms === undefined &&
      event.repo !== undefined &&
      event.digest !== undefined &&
      (event.kind === 'index' || event.kind === 'unknown') &&
      this.sources.has(event.registry)
    );
  }

  /** The event with its platforms, or as it was when they cannot be read. */
  async enrich(event: RegistryEvent): Promise<RegistryEvent> {
    if (!this.wants(event)) return event;
    const key = `${event.registry}/${event.repo}@${event.digest}`;
    const now = this.clock();
    let entry = this.cache.get(key);
    if (!entry || now - entry.at > CACHE_MS) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      entry = { at: now, platforms: this.read(this.sources.get(event.registry)!, event.repo!, event.digest!) };
      this.cache.set(key, entry);
    }
    const platforms = await entry.platforms;
    return platforms ? { ...event, platforms } : event;
  }

  private async read(source: ManifestSource, repo: string, digest: string): Promise<string[] | undefined> {
    const url = `${source.endpoint.replace(/\/+$/, '')}/v2/${repo}/manifests/${digest}`;
    try {
      let answer = await this.http.get<string>(url, { headers: { Accept: INDEX_ACCEPT, ...basic(source) } });
      if (answer.status === 401) {
        const token = await this.bearerToken(String(answer.headers['www-authenticate'] ?? ''), source, repo);
        if (token) {
          answer = await this.http.get<string>(url, {
            headers: { Accept: INDEX_ACCEPT, Authorization: `Bearer ${token}` },
          });
        }
      }
      if (answer.status !== 200) {
        this.logger?.info(
          { registry: source.host, repo, digest, status: answer.status },
          'cannot read the index for its platforms',
        );
        return undefined;
      }
      return platformsOfIndex(JSON.parse(answer.data));
    } catch (err) {
      this.logger?.info(
        { registry: source.host, repo, digest, reason: err instanceof Error ? err.message : String(err) },
        'cannot read the index for its platforms',
      );
      return undefined;
    }
  }

  /**
   * The distribution token flow: the registry names its token service in WWW-Authenticate, and
   * the pull credential (if any) buys a token for this repository only.
   */
  private async bearerToken(challenge: string, source: ManifestSource, repo: string): Promise<string | undefined> {
    if (!/^bearer\s/i.test(challenge)) return undefined;
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]] as const),
    );
    if (!params.realm || !/^https?:\/\//.test(params.realm)) return undefined;
    const query = new URLSearchParams({ scope: `repository:${repo}:pull` });
    if (params.service) query.set('service', params.service);
    const answer = await this.http.get<string>(`${params.realm}?${query.toString()}`, { headers: basic(source) });
    if (answer.status !== 200) return undefined;
    const body = JSON.parse(answer.data) as { token?: unknown; access_token?: unknown };
    const token = body.token ?? body.access_token;
    return typeof token === 'string' ? token : undefined;
  }
}

/** Basic credentials of a source; the password from its file where one is mounted from a Secret. */
function basic(source: ManifestSource): Record<string, string> {
  const password = source.passwordFile ? readFileSync(source.passwordFile, 'utf8').trim() : source.password;
  if (!source.username && !password) return {};
  return { Authorization: `Basic ${Buffer.from(`${source.username}:${password}`).toString('base64')}` };
}

/**
 * An emitter whose deliveries carry the platforms the reader finds: every target of a push gets
 * the same event, and the acknowledgement never waited for the registry. Everything else is the
 * emitter's own, called on the emitter itself.
 */
export function withPlatforms(emitter: Emitter & RouteTarget, reader: ManifestReader): Emitter & RouteTarget {
  const wrapped: Emitter & RouteTarget = {
    name: emitter.name,
    filter: emitter.filter,
    address: emitter.address,
    deliver: async (event) => emitter.deliver(await reader.enrich(event)),
  };
  if (emitter.accepts) wrapped.accepts = (event) => emitter.accepts!(event);
  if (emitter.preview) wrapped.preview = (event) => emitter.preview!(event);
  if (emitter.close) wrapped.close = () => emitter.close!();
  return wrapped;
}
