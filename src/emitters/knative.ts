import Joi from 'joi';
import type { RegistryEvent } from '../model/event';
import {
  CloudEventEncodingError,
  encode,
  toCloudEvent,
  type CloudEventHttpMessage,
  type ContentMode,
} from './cloudevent';
import { prettyJson, withoutUserInfo, type TargetRequest } from './preview';
import {
  bodyExcerpt,
  REQUEST_SETUP_ERROR_CODES,
  statusFailure,
  TargetClient,
  transportFailure,
  type FailurePolicy,
} from './http';
import {
  DeliveryError,
  withDefaults,
  type Emitter,
  type EmitterPlugin,
  type EmitterSectionBase,
  type OwnSettings,
} from './types';

export interface KnativeSection extends EmitterSectionBase {
  /** The Broker's `status.address.url`. */
  brokerURL: string;
  mode: ContentMode;
  /** Empty: the reversed source (`brigade.sh/acr` → `sh.brigade.acr`). */
  typePrefix: string;
  timeoutSeconds: number;
}

/** What the emitter needs; the config section supplies every key, direct callers at least the broker. */
export type KnativeSettings = Pick<KnativeSection, 'brokerURL'> & Partial<OwnSettings<KnativeSection>>;

/**
 * Broker answers worth trying again with the same event id besides the common ones: the broker
 * or its channel not ready yet (404) and a conflicting write (409). Any other 4xx means the
 * broker refused this event and will refuse it again.
 */
const BROKER_POLICY: FailurePolicy = {
  retryStatuses: [404, 409],
  permanentErrorCodes: REQUEST_SETUP_ERROR_CODES,
};

const settingsSchema: Joi.StrictSchemaMap<OwnSettings<KnativeSection>> = {
  brokerURL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
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
};

/**
 * Posts each event as a CloudEvent to a Knative Broker's ingress, where Triggers filter on its
 * type and the registry, repo, tag and digest extension attributes (README, Knative broker).
 */
export class KnativeEmitter implements Emitter {
  readonly name = 'knative';
  private readonly settings: OwnSettings<KnativeSection>;
  private readonly client: TargetClient;

  constructor(settings: KnativeSettings) {
    this.settings = withDefaults(settingsSchema, settings);
    this.client = new TargetClient({ timeoutSeconds: this.settings.timeoutSeconds, responseType: 'text' });
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const message = this.encode(event);

    let response;
    try {
      response = await this.client.http.post(this.settings.brokerURL, message.body, { headers: message.headers });
    } catch (err) {
      throw transportFailure(err, (reason) => `knative broker unreachable: ${reason}`, BROKER_POLICY);
    }
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const excerpt = bodyExcerpt(response.data);
    throw statusFailure(`knative broker answered ${status}${excerpt ? `: ${excerpt}` : ''}`, status, BROKER_POLICY);
  }

  preview(event: RegistryEvent): TargetRequest[] {
    const { headers, body } = this.encode(event);
    const url = withoutUserInfo(this.settings.brokerURL);
    return [{ title: `CloudEvent (${this.settings.mode} mode)`, method: 'POST', url, headers, body: prettyJson(body) }];
  }

  private encode(event: RegistryEvent): CloudEventHttpMessage {
    try {
      return encode(toCloudEvent(event, { typePrefix: this.settings.typePrefix }), this.settings.mode);
    } catch (err) {
      if (err instanceof CloudEventEncodingError) throw new DeliveryError(err.message, false);
      throw err;
    }
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}

export const knativeEmitterPlugin: EmitterPlugin<'knative', KnativeSection> = {
  key: 'knative',
  settings: settingsSchema,
  enabledByDefault: false,
  create: (section) => new KnativeEmitter(section),
};
