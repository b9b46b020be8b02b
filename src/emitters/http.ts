import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { answerBody, hideSecrets, noteExchange, shownUrl, type SentRequest } from './exchange';
import { keepAliveAgents, type KeepAliveAgents } from './keep-alive';
import { DeliveryError } from './types';

/**
 * How one target's answers differ from the common rule, as data. The common rule: 408
 * (timeout), 429 (throttled) and 5xx (the target or the path to it is unwell) are retried; any
 * other answer is the target refusing this request, which a retry would only repeat.
 */
export interface FailurePolicy {
  /** Further statuses that mean "not yet" at this target (a Knative broker not ready is a 404). */
  readonly retryStatuses?: readonly number[];
  /** 5xx answers that mean "never" at this target (Brigade's 501: not supported). */
  readonly permanentStatuses?: readonly number[];
  /**
   * Transport error codes that mean the request itself is malformed (the configured address or
   * an option), so no retry can cure it; every other transport failure is retried.
   */
  readonly permanentErrorCodes?: readonly string[];
  /**
   * Whether a retried answer's Retry-After sets the least wait before the next attempt. Off
   * where the target never sends one on purpose, so those emitters keep their plain backoff.
   */
  readonly honourRetryAfter?: boolean;
}

/** Request-setup failures from axios: the URL or an option is unusable, not the network. */
export const REQUEST_SETUP_ERROR_CODES = ['ERR_INVALID_URL', 'ERR_BAD_OPTION', 'ERR_BAD_OPTION_VALUE'];

/**
 * A receiver that is only an HTTP endpoint (the `webhook` target), by the rules Standard Webhooks
 * senders share: besides the common ones, 409 (a conflicting write in progress) and 425 (too
 * early) mean "not yet"; the receiver's Retry-After is honoured; a bad address never heals.
 */
export const HTTP_RECEIVER_POLICY: FailurePolicy = {
  retryStatuses: [409, 425],
  permanentErrorCodes: REQUEST_SETUP_ERROR_CODES,
  honourRetryAfter: true,
};

export function isRetryableStatus(status: number, policy: FailurePolicy = {}): boolean {
  if (policy.permanentStatuses?.includes(status)) return false;
  if (policy.retryStatuses?.includes(status)) return true;
  return status === 408 || status === 429 || status >= 500;
}

/** A refusal answer as a DeliveryError, retryable or not by the target's policy. */
export function statusFailure(message: string, status: number, policy: FailurePolicy = {}): DeliveryError {
  return new DeliveryError(message, isRetryableStatus(status, policy), status);
}

/**
 * A Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as milliseconds from
 * `nowMs`; undefined when absent or unreadable, 0 for a date already past.
 */
export function retryAfterMs(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * An answer outside 2xx as a DeliveryError: retryable or not by the policy and, where the policy
 * honours it, carrying the answer's Retry-After for the lane.
 */
export function answerFailure(
  message: string,
  answer: { status: number; headers?: Record<string, unknown> },
  policy: FailurePolicy = {},
  nowMs = Date.now(),
): DeliveryError {
  const retryable = isRetryableStatus(answer.status, policy);
  const wait = retryable && policy.honourRetryAfter ? retryAfterMs(answer.headers?.['retry-after'], nowMs) : undefined;
  return new DeliveryError(message, retryable, answer.status, wait);
}

/** The error code of a transport failure (its own, or its cause's), if it has one. */
export function transportErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** What went wrong with a request that got no answer: the message, with the error code when it does not say it. */
export function transportReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const code = transportErrorCode(err);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/** A request that got no answer as a DeliveryError: `describe` puts the reason in the target's words. */
export function transportFailure(
  err: unknown,
  describe: (reason: string) => string,
  policy: FailurePolicy = {},
): DeliveryError {
  const code = transportErrorCode(err);
  const permanent = code !== undefined && (policy.permanentErrorCodes ?? []).includes(code);
  return new DeliveryError(describe(transportReason(err)), !permanent);
}

/** The start of an answer body, on one line: the target's own words on why it refused. */
export function bodyExcerpt(body: unknown, max = 200): string {
  if (typeof body !== 'string') return '';
  const text = body.trim().replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export interface TargetClientOptions {
  /** Requests name paths below it; absent: each request names its full URL. */
  baseURL?: string;
  timeoutSeconds: number;
  /** Extra trust for https (a cluster CA). */
  ca?: Buffer;
  insecureSkipTLSVerify?: boolean;
  /** `text`: the body as sent (an empty 202 is not parsed); `json`: parsed where it is JSON. */
  responseType: 'text' | 'json';
}

/**
 * One HTTP client per target: keep-alive agents (deliveries come in bursts), a timeout, no
 * redirects (a target that redirects is misconfigured, and following one would resend the
 * event, credentials included, somewhere not configured), and every answer returned rather
 * than thrown, so the caller classifies it with its policy.
 */
export class TargetClient {
  readonly http: AxiosInstance;
  private readonly agents: KeepAliveAgents;

  constructor(options: TargetClientOptions) {
    this.agents = keepAliveAgents({ ca: options.ca, rejectUnauthorized: !options.insecureSkipTLSVerify });
    this.http = axios.create({
      baseURL: options.baseURL?.replace(/\/+$/, ''),
      timeout: options.timeoutSeconds * 1000,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      maxRedirects: 0,
      validateStatus: () => true,
      ...(options.responseType === 'text'
        ? { responseType: 'text' as const, transformResponse: [(body: unknown) => body] }
        : {}),
      transitional: { clarifyTimeoutError: true },
    });
    // Every request and its answer go into the attempt's history (exchange.ts), credentials hidden.
    this.http.interceptors.response.use(
      (response) => {
        noteExchange({ request: this.sent(response.config), answer: answerOf(response) });
        return response;
      },
      (err: unknown) => {
        const config = (err as { config?: InternalAxiosRequestConfig }).config;
        if (config) noteExchange({ request: this.sent(config), error: transportReason(err) });
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private sent(config: InternalAxiosRequestConfig): SentRequest {
    return {
      method: (config.method ?? 'get').toUpperCase(),
      url: shownUrl(this.http.getUri(config)),
      headers: hideSecrets(config.headers?.toJSON() ?? {}),
    };
  }

  close(): void {
    this.agents.destroy();
  }
}

function answerOf(response: AxiosResponse) {
  const headers = hideSecrets((response.headers as { toJSON?: () => Record<string, unknown> }).toJSON?.() ?? {});
  return { status: response.status, headers, ...answerBody(response.data) };
}
