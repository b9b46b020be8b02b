import { checkProviderScope } from '../auth/scope';
import type { TokenScope } from '../auth/tokens';
import type { GatewayConfig } from '../config/types';
import { PayloadError } from '../model/errors';
import { inSpan } from '../observability/tracing';
import { detectProvider, protocolHeaders, readRequest } from '../providers';
import { createParseContext } from '../providers/context';
import type { InboundRequest, ParseOutcome, RegistryProvider } from '../providers/types';
import type { ErrorContext } from './error-reply';
import { parseJsonBody } from './json-body';
import { mediaType } from './media-type';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface ReadInput {
  /** The provider the path names, already known to be one of `providers`. */
  named?: RegistryProvider;
  headers: Headers;
  rawBody: Buffer;
  scope: TokenScope;
  requestId?: string;
}

/**
 * Detect, check the provider scope, parse: what the body says, before anything is stored.
 * Throws PayloadError (400, or the provider's own status) and ScopeError (403); `context`
 * learns the provider as soon as it is known, so a refusal names it.
 */
export function readEvents(
  config: GatewayConfig,
  providers: readonly RegistryProvider[],
  input: ReadInput,
  context: ErrorContext,
): { provider: RegistryProvider; outcome: ParseOutcome } {
  // Detection may look at any provider's headers; a parser gets only the ones it declares.
  const inbound: InboundRequest = {
    body: parseJsonBody(input.rawBody),
    contentType: mediaType(input.headers),
    headers: protocolHeaders(input.headers, input.named ? [input.named] : providers),
  };
  const provider = input.named ?? detectProvider(inbound, providers);
  if (!provider) {
    throw new PayloadError(
      `the body matches no accepted webhook shape (${providers.map((p) => p.name).join(', ')}); ` +
        'see docs/registries.md for each registry, or post to /events/<provider>',
    );
  }
  context.provider = provider.name;
  context.refusedStatus = provider.refusedStatus;
  checkProviderScope(input.scope, provider.name);
  // A span of its own: a 400's reason is on it as its error (docs/tracing.md).
  const outcome = inSpan(`parse ${provider.name}`, { 'registry_gateway.provider': provider.name }, () =>
    readRequest(
      provider,
      { ...inbound, headers: protocolHeaders(input.headers, [provider]) },
      createParseContext(provider, config, input.scope.registries, input.requestId),
    ),
  );
  return { provider, outcome };
}
