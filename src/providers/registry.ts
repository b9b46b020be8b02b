import type { ProviderName } from '../model/event';
import { PayloadError } from '../model/errors';
import { isRegistryHost } from './identifiers';
import type { RegistryResolver } from './types';

export interface RegistryResolverOptions {
  provider: ProviderName;
  /** Lower-cased keys and values. */
  aliases: Readonly<Record<string, string>>;
  /** `defaultRegistry.<provider>`, or the entry of the provider it falls back to. */
  fallback?: string;
  /** The authenticated token's registry scope, when it has one. */
  scopeRegistries?: readonly string[];
}

const GLOB_CHARS = /[*?[\]{}!]/;

/**
 * The payload's host, lower-cased (registry names compare lower-case everywhere) and mapped
 * through `registryAliases`, so geo-replicas read as one registry; where the payload names none,
 * the token's single registry, then `defaultRegistry`, then a 400 that says how to fix it.
 */
export function createRegistryResolver(options: RegistryResolverOptions): RegistryResolver {
  const alias = (host: string) => options.aliases[host] ?? host;
  return {
    resolve(raw, field) {
      if (raw !== undefined && raw !== '') {
        const host = raw.toLowerCase();
        if (!isRegistryHost(host)) {
          throw new PayloadError(`${field} ${JSON.stringify(raw)} is not a registry host name`);
        }
        return alias(host);
      }
      const scoped = options.scopeRegistries;
      if (scoped && scoped.length === 1 && !GLOB_CHARS.test(scoped[0])) {
        return alias(scoped[0].toLowerCase());
      }
      if (options.fallback) return alias(options.fallback.toLowerCase());
      throw new PayloadError(
        `${field} is missing, so the registry is unknown: scope the token to exactly one ` +
          `registry or set defaultRegistry.${options.provider} in the config`,
      );
    },
  };
}
