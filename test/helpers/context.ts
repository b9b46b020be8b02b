import type { ProviderName } from '../../src/model/event';
import { createRegistryResolver } from '../../src/providers/registry';
import type { InboundRequest, ParseContext } from '../../src/providers/types';

const DEFAULT_SOURCES: Record<ProviderName, string> = {
  acr: 'brigade.sh/acr',
  eventgrid: 'brigade.sh/acr',
  harbor: 'brigade.sh/harbor',
  distribution: 'brigade.sh/distribution',
};

export interface TestContextOptions {
  aliases?: Record<string, string>;
  fallback?: string;
  scopeRegistries?: string[];
  emitPulls?: boolean;
}

/** A ParseContext as the server builds it, for parser unit tests. */
export function parseContext(provider: ProviderName, options: TestContextOptions = {}): ParseContext {
  return {
    source: DEFAULT_SOURCES[provider],
    registry: createRegistryResolver({
      provider,
      aliases: options.aliases ?? {},
      fallback: options.fallback,
      scopeRegistries: options.scopeRegistries,
    }),
    options: { distribution: { emitPulls: options.emitPulls ?? false } },
  };
}

export function inbound(
  body: unknown,
  contentType: string | undefined = 'application/json',
  headers: Record<string, string> = {},
): InboundRequest {
  return { body, contentType, headers };
}
