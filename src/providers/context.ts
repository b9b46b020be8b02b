import { createRegistryResolver } from './registry';
import type { ParseContext, RegistryProvider } from './types';

/** The config sections about registries, as the server reads them for every request. */
export interface ProviderSettings {
  sources: Readonly<Record<string, string>>;
  /** Lower-cased keys and values. */
  registryAliases: Readonly<Record<string, string>>;
  defaultRegistry: Readonly<Record<string, string | undefined>>;
  /** `providers.<name>`: each provider's options, defaults filled in. */
  providers: Readonly<Record<string, unknown>>;
}

/**
 * What `provider.parse` needs for one request: its source, its options, and the registry
 * resolver with the token's registry scope and the default-registry rule (the provider's own
 * `defaultRegistry` entry, else the one it falls back to).
 */
export function createParseContext(
  provider: RegistryProvider,
  settings: ProviderSettings,
  scopeRegistries?: readonly string[],
  requestId?: string,
): ParseContext {
  const fallbackKey = provider.defaultRegistryFallback;
  return {
    source: settings.sources[provider.name],
    registry: createRegistryResolver({
      provider: provider.name,
      aliases: settings.registryAliases,
      fallback:
        settings.defaultRegistry[provider.name] ??
        (fallbackKey === undefined ? undefined : settings.defaultRegistry[fallbackKey]),
      scopeRegistries,
    }),
    options: settings.providers[provider.name],
    requestId,
  };
}
