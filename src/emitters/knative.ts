import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import Joi from 'joi';
import type { RegistryEvent } from '../model/event';
import { CloudEventEncodingError, encode, toCloudEvent, type ContentMode } from './cloudevent';
import { DeliveryError, type Emitter, type EmitterPlugin, type EmitterSectionBase } from './types';

export interface KnativeSection extends EmitterSectionBase {
  /** The Broker's `status.address.url`. */
  brokerURL: string;
  mode: ContentMode;
  /** Empty: the reversed source (`brigade.sh/acr` → `sh.brigade.acr`). */
  typePrefix: string;
  timeoutSeconds: number;
}

export type KnativeSettings = Pick<KnativeSection, 'brokerURL'> &
  Partial<Pick<KnativeSection, 'mode' | 'typePrefix' | 'timeoutSeconds'>>;

/**
 * Broker answers worth trying again with the same event id: the broker or its channel not ready
 * yet (404), timeouts, a conflicting write, throttling and server errors. Any other 4xx means the
 * broker refused this event and will refuse it again.
 */
const RETRYABLE_STATUSES = new Set([404, 408, 409, 429]);

function isRetryableStatus(status: number): boolean {
  return status >= 500 || RETRYABLE_STATUSES.has(status);
}

/** Axios failures that come from the request itself, not from the network: retrying cannot help. */
const REQUEST_SETUP_ERRORS = new Set(['ERR_INVALID_URL', 'ERR_BAD_OPTION', 'ERR_BAD_OPTION_VALUE']);

/** Posts each event as a CloudEvent to a Knative Broker's ingress (CONTRACT §3.2). */
export class KnativeEmitter implements Emitter {
  readonly name = 'knative';
  private readonly mode: ContentMode;
  private readonly typePrefix: string;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });
  private readonly client: AxiosInstance;
  private readonly brokerURL: string;

  constructor(settings: KnativeSettings) {
    this.brokerURL = settings.brokerURL;
    this.mode = settings.mode ?? 'binary';
    this.typePrefix = settings.typePrefix ?? '';
    this.client = axios.create({
      timeout: (settings.timeoutSeconds ?? 10) * 1000,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      maxRedirects: 0,
      // Every answer is classified here; the raw text keeps an empty 202 body from being parsed.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(body: unknown) => body],
      transitional: { clarifyTimeoutError: true },
    });
  }

  async deliver(event: RegistryEvent): Promise<void> {
    let message;
    try {
      message = encode(toCloudEvent(event, { typePrefix: this.typePrefix }), this.mode);
    } catch (err) {
      if (err instanceof CloudEventEncodingError) throw new DeliveryError(err.message, false);
      throw err;
    }

    let response;
    try {
      response = await this.client.post(this.brokerURL, message.body, { headers: message.headers });
    } catch (err) {
      throw transportFailure(err);
    }
    const { status } = response;
    if (status >= 200 && status < 300) return;
    throw new DeliveryError(
      `knative broker answered ${status}${bodyExcerpt(response.data)}`,
      isRetryableStatus(status),
      status,
    );
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function transportFailure(err: unknown): DeliveryError {
  if (axios.isAxiosError(err)) {
    const code = err.code ?? 'ERR_UNKNOWN';
    const retryable = !REQUEST_SETUP_ERRORS.has(code);
    return new DeliveryError(`knative broker unreachable: ${code} ${err.message}`, retryable);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DeliveryError(`knative broker request failed: ${message}`, true);
}

/** The start of a non-empty answer body: the broker's own words on why it refused. */
function bodyExcerpt(body: unknown): string {
  if (typeof body !== 'string') return '';
  const text = body.trim().replace(/\s+/g, ' ');
  if (!text) return '';
  return `: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
}

const httpURL = Joi.string().uri({ scheme: ['http', 'https'] });

export const knativeEmitterPlugin: EmitterPlugin<KnativeSection> = {
  key: 'knative',
  settings: {
    brokerURL: httpURL
      .default('')
      .when('enabled', { is: true, then: Joi.required(), otherwise: Joi.allow('') })
      .messages({
        'any.required': '{{#label}} is required when the knative emitter is enabled',
        'string.empty': '{{#label}} is required when the knative emitter is enabled',
      }),
    mode: Joi.string().valid('binary', 'structured').default('binary'),
    typePrefix: Joi.string()
      .allow('')
      .pattern(/^[^\s]*$/)
      .default('')
      .messages({ 'string.pattern.base': '{{#label}} must not contain whitespace' }),
    timeoutSeconds: Joi.number().positive().default(10),
  },
  enabledByDefault: false,
  create: (section) => new KnativeEmitter(section),
};
