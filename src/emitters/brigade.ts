import { core, meta } from '@brigadecore/brigade-sdk';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import Joi from 'joi';
import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import { toBrigadeEvent } from './brigade-event';
import { noteExchange, shownUrl } from './exchange';
import {
  REQUEST_SETUP_ERROR_CODES,
  statusFailure,
  transportErrorCode,
  transportFailure,
  type FailurePolicy,
} from './http';
import { keepAliveAgents, type KeepAliveAgents } from './keep-alive';
import { HIDDEN_CREDENTIAL, withoutUserInfo, type TargetRequest } from './preview';
import { DeliveryError, type Emitter, type EmitterPlugin, type EmitterSectionBase, type OwnSettings } from './types';

export const DEFAULT_BRIGADE_API_ADDRESS = 'https://brigade-apiserver.brigade.svc.cluster.local';

/** `emitters.brigade`. */
export interface BrigadeSection extends EmitterSectionBase {
  apiAddress: string;
  /** A Brigade service account's token, granted EVENT_CREATOR for every source emitted. */
  apiToken: string;
  apiIgnoreCertWarnings: boolean;
  timeoutSeconds: number;
}

export type BrigadeSettings = OwnSettings<BrigadeSection>;

/**
 * Creates each RegistryEvent as a Brigade event through the Brigade SDK, for project
 * subscriptions on source, type, the registry qualifier and labels (docs/targets.md, Brigade 2).
 */
export class BrigadeEmitter implements Emitter {
  readonly name = 'brigade';
  private readonly events: core.EventsClient;
  private readonly apiAddress: string;
  private readonly connections: SdkConnections;

  constructor(
    private readonly settings: BrigadeSettings,
    private readonly logger: Logger,
  ) {
    // The SDK joins address and path with a '/', so a trailing one would double it.
    const apiAddress = settings.apiAddress.replace(/\/+$/, '');
    this.apiAddress = apiAddress;
    this.events = new core.EventsClient(apiAddress, settings.apiToken, {
      allowInsecureConnections: settings.apiIgnoreCertWarnings,
    });
    this.connections = new SdkConnections(apiAddress, settings);
  }

  close(): Promise<void> {
    this.connections.close();
    return Promise.resolve();
  }

  get address(): string {
    return shownUrl(this.apiAddress);
  }

  async deliver(registryEvent: RegistryEvent): Promise<void> {
    const { event, droppedLabels } = toBrigadeEvent(registryEvent);
    for (const dropped of droppedLabels) {
      this.logger.warn(
        { emitter: this.name, eventId: registryEvent.id, label: dropped.key, value: dropped.value },
        `label "${dropped.key}" left out of the Brigade event: its value ${dropped.problem}`,
      );
    }
    await this.create(event);
  }

  preview(registryEvent: RegistryEvent): TargetRequest[] {
    const { event } = toBrigadeEvent(registryEvent);
    return [
      {
        title: 'Brigade event',
        method: 'POST',
        url: `${withoutUserInfo(this.apiAddress)}/v2/events`,
        headers: { Authorization: `Bearer ${HIDDEN_CREDENTIAL}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...event, apiVersion: meta.APIVersion, kind: 'Event' }, null, 2),
      },
    ];
  }

  /**
   * The SDK sets no timeout and takes no abort signal, so the request is raced against a timer.
   * A request that loses the race is abandoned, not cancelled: should Brigade still take it, the
   * retry creates the event a second time, which at-least-once delivery accepts.
   */
  private async create(event: core.Event): Promise<void> {
    const seconds = this.settings.timeoutSeconds;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, seconds * 1000, TIMED_OUT);
    });
    let outcome: unknown;
    // The SDK sends the request itself and hands back no answer: the history keeps what is known.
    const request = {
      method: 'POST',
      url: `${withoutUserInfo(this.apiAddress)}/v2/events`,
      headers: { Authorization: `Bearer ${HIDDEN_CREDENTIAL}`, 'Content-Type': 'application/json' },
    };
    try {
      outcome = await Promise.race([this.events.create(event), timedOut]);
    } catch (err) {
      const failure = classifyBrigadeFailure(err, this.settings.apiToken);
      const answer = failure.status && { status: failure.status, headers: {}, body: failure.message };
      noteExchange(answer ? { request, answer } : { request, error: failure.message });
      throw failure;
    } finally {
      clearTimeout(timer);
    }
    if (outcome === TIMED_OUT) {
      const failure = new DeliveryError(`Brigade API did not answer within ${seconds}s`, true);
      noteExchange({ request, error: failure.message });
      throw failure;
    }
    noteExchange({ request, answer: { status: 201, headers: {}, body: '' } });
  }
}

const TIMED_OUT = Symbol('timed out');

/**
 * Keeps the connections to the Brigade API open between events. The SDK sends every request
 * through axios' default instance with a new https.Agent of its own (rest_machinery/client.js in
 * @brigadecore/brigade-sdk 2.4), so each event paid a TCP and TLS handshake: about 12 % of the
 * gateway's CPU in bench/PROFILE.md. The SDK takes no agent, so a request interceptor on that
 * instance, run only for requests under this emitter's address, swaps in keep-alive agents with
 * the same certificate rule and sets the timeout the SDK lacks (the abandoned-request race above
 * stays as the last word). Ejected on close, so a reload leaves no interceptor behind.
 */
class SdkConnections {
  private readonly agents: KeepAliveAgents;
  private readonly interceptor: number;

  constructor(apiAddress: string, settings: BrigadeSettings) {
    this.agents = keepAliveAgents({ rejectUnauthorized: !settings.apiIgnoreCertWarnings });
    const prefix = `${apiAddress}/`;
    this.interceptor = axios.interceptors.request.use(
      (config: InternalAxiosRequestConfig) => {
        config.httpAgent = this.agents.http;
        config.httpsAgent = this.agents.https;
        config.timeout = settings.timeoutSeconds * 1000;
        // As for every other target (emitters/http.ts): a redirect is not followed, since that
        // would send the event and the API token somewhere not configured. It also keeps axios
        // off follow-redirects, which wrapped every request (8 % of a drain's CPU).
        config.maxRedirects = 0;
        return config;
      },
      undefined,
      { synchronous: true, runWhen: (config) => typeof config.url === 'string' && config.url.startsWith(prefix) },
    );
  }

  close(): void {
    axios.interceptors.request.eject(this.interceptor);
    this.agents.destroy();
  }
}

/**
 * The SDK reports an HTTP answer only as the text of a plain Error, one fixed text per status it
 * knows (rest_machinery/client.js in @brigadecore/brigade-sdk 2.4): these recover the status.
 */
const SDK_STATUS_TEXTS: readonly { text: RegExp; status: number | ((match: RegExpMatchArray) => number) }[] = [
  { text: /^Could not authenticate the request/, status: 401 },
  { text: /^The request is not authorized/, status: 403 },
  { text: /^Bad request: /, status: 400 },
  { text: /^Request not supported: /, status: 501 },
  { text: /^An internal server error occurred\.$/, status: 500 },
  { text: /^received (\d{3}) from API server$/, status: (match) => Number(match[1]) },
  { text: / not found\.$/, status: 404 },
];

/**
 * Brigade's 501 (a request kind it does not support) will not change on a retry, nor will a
 * redirect (not followed: `apiAddress` names the API itself). Beyond a malformed request, an
 * unsupported scheme means the configured address itself is unusable.
 */
const BRIGADE_POLICY: FailurePolicy = {
  permanentStatuses: [501],
  permanentErrorCodes: [...REQUEST_SETUP_ERROR_CODES, 'ERR_NOT_SUPPORT'],
};

/** Room for the reasons and schema details Brigade gives, without letting a proxy flood logs. */
const MAX_MESSAGE_LENGTH = 2000;

/**
 * A failure of `EventsClient.create` as a DeliveryError. Permanent: Brigade refused the event or
 * the caller (401, 403, 400, 404, 409, 501 and other 4xx), so the same request can never succeed.
 * Retryable: Brigade or the path to it is unwell (5xx except 501, 408, 429, network errors).
 * `apiToken` is scrubbed from the message: it reaches logs and `deliveries list`.
 */
export function classifyBrigadeFailure(err: unknown, apiToken: string): DeliveryError {
  const scrub = (text: string) => {
    const redacted = apiToken === '' ? text : text.split(apiToken).join('[redacted]');
    const oneLine = redacted.replace(/\s*\n\s*/g, ' ').trim();
    return oneLine.length > MAX_MESSAGE_LENGTH ? `${oneLine.slice(0, MAX_MESSAGE_LENGTH)}…` : oneLine;
  };
  const text = err instanceof Error ? err.message : String(err);

  if (isTransportError(err)) {
    return transportFailure(err, (reason) => scrub(`Brigade API unreachable: ${reason}`), BRIGADE_POLICY);
  }

  if (err instanceof Error && err.constructor === Error) {
    for (const known of SDK_STATUS_TEXTS) {
      const match = text.match(known.text);
      if (!match) continue;
      const status = typeof known.status === 'number' ? known.status : known.status(match);
      return statusFailure(scrub(`Brigade API answered ${status}: ${text}`), status, BRIGADE_POLICY);
    }
    // The SDK's only free-text status is 409, whose message is Brigade's conflict reason alone.
    return new DeliveryError(scrub(`Brigade API answered 409: ${text || 'conflict, no reason given'}`), false, 409);
  }

  // Neither a transport error nor an answer the SDK reported: retrying is bounded by
  // delivery.maxAttempts and the event is kept in the dead-letter state afterwards.
  return new DeliveryError(scrub(`Brigade delivery failed: ${text}`), true);
}

/** Axios marks its own errors; they carry no HTTP status here because the SDK accepts any. */
function isTransportError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { isAxiosError?: unknown }).isAxiosError === true) return true;
  return transportErrorCode(err) === 'ERR_INVALID_URL';
}

export const brigadeEmitterPlugin: EmitterPlugin<'brigade', BrigadeSection> = {
  key: 'brigade',
  enabledByDefault: false,
  settings: {
    apiAddress: Joi.string()
      .uri({ scheme: ['http', 'https'] })
      .default(DEFAULT_BRIGADE_API_ADDRESS),
    apiToken: Joi.string()
      .default('')
      .when('enabled', { is: true, then: Joi.required(), otherwise: Joi.allow('') })
      .messages({
        'any.required':
          '{{#label}} is required when the Brigade emitter is enabled: the token of a Brigade service account granted EVENT_CREATOR for each source',
        'string.empty':
          '{{#label}} must not be empty when the Brigade emitter is enabled: the token of a Brigade service account granted EVENT_CREATOR for each source',
      }),
    apiIgnoreCertWarnings: Joi.boolean().default(true),
    timeoutSeconds: Joi.number().positive().default(30),
  },
  create: (section, deps) => new BrigadeEmitter(section, deps.logger),
};
