import type Joi from 'joi';
import { AcrParser } from './acr';
import { DistributionParser } from './distribution';
import { EventGridParser } from './eventgrid';
import { HarborParser } from './harbor';
import type { InboundRequest, RegistryProvider } from './types';

/**
 * Every registry format the gateway understands, in auto-detection order for `POST /events`.
 * A new registry is one provider module and one line here: the config sections, the paths, the
 * accepted media types and `send`'s Content-Type all follow from this list.
 *
 * The order matters where shapes overlap: an Event Grid CloudEvent in binary mode has the ACR
 * body (`action`, `target`) with the Event Grid type in its `ce-type` header, so Event Grid is
 * asked before ACR; ACR comes last as the loosest shape (any object with `action`).
 */
export const PROVIDERS = [
  new EventGridParser(),
  new HarborParser(),
  new DistributionParser(),
  new AcrParser(),
] as const;

/** The provider for a request to `POST /events`, chosen from its shape; undefined when none fits. */
export function detectProvider(
  request: InboundRequest,
  providers: readonly RegistryProvider[] = PROVIDERS,
): RegistryProvider | undefined {
  return providers.find((provider) => provider.matches(request));
}

/** Every Content-Type some provider's registry sends, each once, in list order. */
export function acceptedMediaTypes(providers: readonly RegistryProvider[] = PROVIDERS): string[] {
  return [...new Set(providers.flatMap((provider) => provider.mediaTypes))];
}

/** The Content-Type the registry that sends a body of this shape would give it. */
export function contentTypeFor(body: unknown, providers: readonly RegistryProvider[] = PROVIDERS): string {
  const provider = detectProvider({ body, contentType: undefined, headers: {} }, providers);
  if (!provider) return 'application/json';
  return provider.sendsAs?.(body) ?? provider.mediaTypes[0];
}

type AnyProvider = (typeof PROVIDERS)[number];

/** `providers` in the config: each provider that has options, with its own options type. */
export type ProviderOptions = {
  [Provider in AnyProvider as Provider extends { options: object } ? Provider['name'] : never]: Provider extends {
    options: Joi.ObjectSchema<infer Options>;
  }
    ? Options
    : never;
};
