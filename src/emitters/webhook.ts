import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';
import { encode, JSON_CONTENT_TYPE, toCloudEvent } from './cloudevent';
import { shownUrl } from './exchange';
import { answerFailure, bodyExcerpt, HTTP_RECEIVER_POLICY, TargetClient, transportFailure } from './http';
import { HIDDEN_CREDENTIAL, prettyJson, withoutUserInfo, type TargetRequest } from './preview';
import type { AttemptContext, Emitter, EmitterDeps, EmitterPlugin } from './types';
import {
  resolveEndpoint,
  webhookSettings,
  type ResolvedEndpoint,
  type WebhookEndpoint,
  type WebhookSection,
} from './webhook-settings';
import { signedHeaders } from './webhook-signature';

/** Configured header names whose values a preview hides: they usually carry a credential. */
const CREDENTIAL_HEADER = /auth|token|key|secret|signature|password|cookie|session|credential/i;

/** Test seams: the environment `secretFrom.env` reads, and the clock the timestamps come from. */
export interface WebhookEmitterOptions {
  env?: NodeJS.ProcessEnv;
  /** Epoch milliseconds. */
  clock?: () => number;
}

/**
 * Posts each event to one HTTP endpoint, signed per Standard Webhooks. The `webhook-id` is the
 * event id on every attempt (and on a replay), so a receiver dedups by it; the timestamp is the
 * attempt's own, as receivers refuse stale ones to stop replayed captures.
 */
export class WebhookEmitter implements Emitter {
  readonly name: string;
  readonly endpointFilter: WebhookEndpoint['filter'];
  readonly address: string;
  private readonly client: TargetClient;
  private readonly clock: () => number;

  constructor(
    private readonly endpoint: ResolvedEndpoint,
    options: WebhookEmitterOptions = {},
  ) {
    this.name = `webhook/${endpoint.name}`;
    this.endpointFilter = endpoint.filter;
    this.address = shownUrl(endpoint.url);
    this.clock = options.clock ?? Date.now;
    this.client = new TargetClient({ timeoutSeconds: endpoint.timeoutSeconds, responseType: 'text' });
  }

  async deliver(event: RegistryEvent, attempt?: AttemptContext): Promise<void> {
    const { headers, body } = this.request(event, attempt?.trace);
    let response;
    try {
      response = await this.client.http.post(this.endpoint.url, body, { headers });
    } catch (err) {
      throw transportFailure(err, (reason) => `${this.name} unreachable: ${reason}`, HTTP_RECEIVER_POLICY);
    }
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const excerpt = bodyExcerpt(response.data);
    throw answerFailure(
      `${this.name} answered ${status}${excerpt ? `: ${excerpt}` : ''}`,
      { status, headers: response.headers },
      HTTP_RECEIVER_POLICY,
      this.clock(),
    );
  }

  preview(event: RegistryEvent): TargetRequest[] {
    const { headers, body } = this.request(event);
    const shown = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name, this.hides(name) ? HIDDEN_CREDENTIAL : value]),
    );
    const what = this.endpoint.format === 'cloudevent' ? `CloudEvent (${this.endpoint.mode} mode)` : 'event';
    return [
      {
        title: `Signed ${what}`,
        method: 'POST',
        url: withoutUserInfo(this.endpoint.url),
        headers: shown,
        body: prettyJson(body),
      },
    ];
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }

  /** The exact headers and body of one attempt: the signature covers these very bytes. */
  private request(event: RegistryEvent, trace?: TraceContext): { headers: Record<string, string>; body: string } {
    const message =
      this.endpoint.format === 'cloudevent'
        ? encode(toCloudEvent(event, { trace }), this.endpoint.mode)
        : { headers: { 'Content-Type': JSON_CONTENT_TYPE }, body: JSON.stringify(event) };
    const signed = signedHeaders(this.endpoint.key, event.id, this.clock() / 1000, message.body);
    return { headers: { ...this.endpoint.headers, ...message.headers, ...signed }, body: message.body };
  }

  private hides(header: string): boolean {
    if (header === 'webhook-signature') return true;
    return header in this.endpoint.headers && CREDENTIAL_HEADER.test(header);
  }
}

/** One emitter per endpoint, so each has its own delivery rows, lane, circuit and dead letters. */
export function createWebhookEmitters(
  section: Pick<WebhookSection, 'endpoints'>,
  deps?: Partial<EmitterDeps>,
  options: WebhookEmitterOptions = {},
): WebhookEmitter[] {
  if (section.endpoints.length === 0) throw new Error('webhook: enabled without endpoints: list at least one');
  return section.endpoints.map((given) => {
    const emitter = new WebhookEmitter(resolveEndpoint(given, options.env), options);
    logEndpoint(deps?.logger, emitter.name, given);
    return emitter;
  });
}

function logEndpoint(logger: Logger | undefined, name: string, endpoint: WebhookEndpoint): void {
  logger?.debug(
    { endpoint: name, url: withoutUserInfo(endpoint.url), format: endpoint.format },
    'webhook endpoint ready',
  );
}

export const webhookEmitterPlugin: EmitterPlugin<'webhook', WebhookSection, WebhookEmitter[]> = {
  key: 'webhook',
  settings: webhookSettings,
  enabledByDefault: false,
  create: (section, deps) => createWebhookEmitters(section, deps),
};
