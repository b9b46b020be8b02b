import Joi from 'joi';
import { PROVIDERS } from '../../src/providers';
import { createParseContext } from '../../src/providers/context';
import type { InboundRequest, ParseContext, RegistryProvider } from '../../src/providers/types';

export interface TestContextOptions {
  aliases?: Record<string, string>;
  /** `defaultRegistry.<provider>`. */
  fallback?: string;
  scopeRegistries?: string[];
  /** `providers.<name>` as a values file would give it; the provider's defaults fill the rest. */
  options?: Record<string, unknown>;
  /** The gateway's id for the request; fixed, so ids derived from it are stable in tests. */
  requestId?: string;
}

/** A ParseContext as the server builds it for a provider of the list, for parser unit tests. */
export function parseContext<Options>(
  name: string,
  options: TestContextOptions = {},
  providers: readonly RegistryProvider[] = PROVIDERS,
): ParseContext<Options> {
  const provider = providers.find((p) => p.name === name);
  if (!provider) throw new Error(`no provider ${name}`);
  const context = createParseContext(
    provider,
    {
      sources: { [name]: provider.defaultSource },
      registryAliases: options.aliases ?? {},
      defaultRegistry: { [name]: options.fallback },
      providers: { [name]: provider.options ? Joi.attempt(options.options ?? {}, provider.options) : undefined },
    },
    options.scopeRegistries,
    options.requestId ?? 'test-request',
  );
  return context as ParseContext<Options>;
}

export function inbound(
  body: unknown,
  contentType: string | undefined = 'application/json',
  headers: Record<string, string> = {},
): InboundRequest {
  return { body, contentType, headers };
}
