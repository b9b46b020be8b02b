import type Joi from 'joi';
import { AcrParser } from './acr';
import { ArtifactoryParser } from './artifactory';
import { DistributionParser } from './distribution';
import { DockerHubParser } from './dockerhub';
import { EcrParser } from './ecr';
import { EventGridParser } from './eventgrid';
import { GarParser } from './gar';
import { GhcrParser } from './ghcr';
import { HarborParser } from './harbor';
import { QuayParser } from './quay';
import { finishArtifact } from './artifact';
import type { InboundRequest, ParseContext, ParseOutcome, RegistryProvider } from './types';

/**
 * Every registry format the gateway understands, in auto-detection order for `POST /events`.
 * A new registry is one provider module and one line here: the config sections, the paths, the
 * accepted media types and `send`'s Content-Type all follow from this list.
 *
 * The order matters where shapes overlap: an Event Grid CloudEvent in binary mode has the ACR
 * body (`action`, `target`) with the Event Grid type in its `ce-type` header, so Event Grid is
 * asked before ACR; ACR comes last as the loosest shape (any object with `action`). GitHub is
 * told by its X-GitHub-Event header before any body shape is looked at; the other registries'
 * shapes share no required key with each other or with ACR's.
 */
export const PROVIDERS = [
  new EventGridParser(),
  new GhcrParser(),
  new HarborParser(),
  new DistributionParser(),
  new DockerHubParser(),
  new QuayParser(),
  new ArtifactoryParser(),
  new GarParser(),
  new EcrParser(),
  new AcrParser(),
] as const;

/** The provider for a request to `POST /events`, chosen from its shape; undefined when none fits. */
export function detectProvider(
  request: InboundRequest,
  providers: readonly RegistryProvider[] = PROVIDERS,
): RegistryProvider | undefined {
  return providers.find((provider) => provider.matches(request));
}

/**
 * What the gateway makes of a request to `provider`: its parser's events, each finished with its
 * artifact kind (and a signature's or attestation's own event type) by the rules every registry
 * shares, so no parser repeats them.
 */
export function readRequest(provider: RegistryProvider, request: InboundRequest, context: ParseContext): ParseOutcome {
  const outcome = provider.parse(request, context);
  return outcome.kind === 'events' ? { kind: 'events', events: outcome.events.map(finishArtifact) } : outcome;
}

/** The protocol headers `provider` reads, from the request's lower-cased headers (see `headers`). */
export function protocolHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  providers: readonly RegistryProvider[],
): Record<string, string> {
  const declared = providers.flatMap((provider) => provider.headers ?? []);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') continue;
    const wanted = declared.some((header) =>
      header.endsWith('*') ? name.startsWith(header.slice(0, -1)) : name === header,
    );
    if (wanted) out[name] = value;
  }
  return out;
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
