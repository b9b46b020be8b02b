import Joi from 'joi';
import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';
import { CloudEventEncodingError, encode, type CloudEventHttpMessage, type ContentMode } from './cloudevent';
import { prettyJson, withoutUserInfo, type TargetRequest } from './preview';
import { shownUrl } from './exchange';
import {
  bodyExcerpt,
  REQUEST_SETUP_ERROR_CODES,
  statusFailure,
  TargetClient,
  transportFailure,
  type FailurePolicy,
} from './http';
import {
  ceOverridesSchema,
  cloudEventFor,
  longExtensionNames,
  sourceSchema,
  typeTemplateSchema,
  type CloudEventNaming,
} from './knative-naming';
import {
  FixedSink,
  isReferenceSet,
  ReferencedSink,
  sinkSchema,
  type SinkAddress,
  type SinkSettings,
} from './knative-sink';
import {
  KUBERNETES_CONNECTION_SETTINGS,
  KubernetesClient,
  type KubernetesConnectionSection,
} from './kubernetes-client';
import { DeliveryError, withDefaults, type Emitter, type EmitterDeps } from './types';
import type { AttemptContext, EmitterPlugin, EmitterSectionBase, OwnSettings } from './types';

export interface KnativeSection extends EmitterSectionBase, CloudEventNaming, KubernetesConnectionSection {
  /** Shorthand for `sink.uri`: the Broker's `status.address.url`. */
  brokerURL: string;
  sink: SinkSettings;
  mode: ContentMode;
  timeoutSeconds: number;
  /** How often a `sink.ref` is read again while deliveries to it succeed. */
  resolveIntervalSeconds: number;
}

/** What the emitter needs; the config section supplies every key, direct callers some (a sink at least). */
export type KnativeSettings = Partial<OwnSettings<KnativeSection>>;

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
    .allow('')
    .default(''),
  // After brokerURL: its check reads brokerURL and enabled from the section.
  sink: sinkSchema,
  mode: Joi.string().valid('binary', 'structured').default('binary'),
  typePrefix: Joi.string()
    .allow('')
    .pattern(/^[^\s]*$/)
    .default('')
    .messages({ 'string.pattern.base': '{{#label}} must not contain whitespace' }),
  typeTemplate: typeTemplateSchema,
  source: sourceSchema,
  ceOverrides: ceOverridesSchema,
  timeoutSeconds: Joi.number().positive().default(10),
  resolveIntervalSeconds: Joi.number().positive().default(30),
  // Only read with sink.ref: empty apiServer = in-cluster.
  ...KUBERNETES_CONNECTION_SETTINGS,
};

/** Test seams: the environment a KubernetesClient reads, and the clock a ref's interval runs on. */
export interface KnativeEmitterOptions {
  env?: NodeJS.ProcessEnv;
  clock?: () => number;
}

/**
 * Posts each event as a CloudEvent to a Knative sink (a Broker's ingress, usually), where
 * Triggers filter on its type and the registry, repo, tag and digest extension attributes
 * (docs/targets.md, Knative broker). The sink is a URL, or a ref resolved through the Kubernetes API.
 */
export class KnativeEmitter implements Emitter {
  readonly name = 'knative';
  private readonly settings: OwnSettings<KnativeSection>;
  private readonly client: TargetClient;
  private readonly sink: SinkAddress;

  constructor(settings: KnativeSettings, deps?: Partial<EmitterDeps>, options: KnativeEmitterOptions = {}) {
    this.settings = withDefaults(settingsSchema, settings);
    this.sink = createSink(this.settings, deps?.logger, options);
    this.client = new TargetClient({ timeoutSeconds: this.settings.timeoutSeconds, responseType: 'text' });
    const long = longExtensionNames(this.settings.ceOverrides);
    if (long.length > 0) {
      deps?.logger?.warn(
        { extensions: long },
        'CloudEvents recommends extension names of at most 20 characters; some consumers may refuse longer ones',
      );
    }
  }

  async deliver(event: RegistryEvent, attempt?: AttemptContext): Promise<void> {
    const message = this.encode(event, attempt?.trace);
    const url = await this.sink.current();
    try {
      await this.post(url, message);
    } catch (err) {
      // A sink that moved (a Broker recreated, a new ingress) fails at the old address: read
      // the ref again and, when it points elsewhere now, deliver there at once.
      if (!(err instanceof DeliveryError) || !err.retryable) throw err;
      const moved = await this.sink.moved(url);
      if (moved === undefined) throw err;
      await this.post(moved, message);
    }
  }

  get address(): string {
    return shownUrl(this.sink.describe());
  }

  preview(event: RegistryEvent): TargetRequest[] {
    const { headers, body } = this.encode(event);
    const url = withoutUserInfo(this.sink.describe());
    return [{ title: `CloudEvent (${this.settings.mode} mode)`, method: 'POST', url, headers, body: prettyJson(body) }];
  }

  private encode(event: RegistryEvent, trace?: TraceContext): CloudEventHttpMessage {
    try {
      return encode(cloudEventFor(event, this.settings, trace), this.settings.mode);
    } catch (err) {
      if (err instanceof CloudEventEncodingError) throw new DeliveryError(err.message, false);
      throw err;
    }
  }

  close(): Promise<void> {
    this.client.close();
    this.sink.close();
    return Promise.resolve();
  }

  private async post(url: string, message: CloudEventHttpMessage): Promise<void> {
    let response;
    try {
      response = await this.client.http.post(url, message.body, { headers: message.headers });
    } catch (err) {
      throw transportFailure(err, (reason) => `knative sink unreachable: ${reason}`, BROKER_POLICY);
    }
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const excerpt = bodyExcerpt(response.data);
    throw statusFailure(`knative sink answered ${status}${excerpt ? `: ${excerpt}` : ''}`, status, BROKER_POLICY);
  }
}

function createSink(settings: OwnSettings<KnativeSection>, logger: Logger | undefined, options: KnativeEmitterOptions) {
  const { sink, brokerURL } = settings;
  if (isReferenceSet(sink.ref)) {
    return new ReferencedSink(sink.ref, sink.uri, new KubernetesClient(settings, options.env), {
      intervalMs: settings.resolveIntervalSeconds * 1000,
      logger,
      clock: options.clock,
    });
  }
  const url = sink.uri || brokerURL;
  if (!url) throw new Error('knative: no sink: set sink.ref, sink.uri or brokerURL (or K_SINK)');
  return new FixedSink(url);
}

export const knativeEmitterPlugin: EmitterPlugin<'knative', KnativeSection> = {
  key: 'knative',
  settings: settingsSchema,
  enabledByDefault: false,
  create: (section, deps) => new KnativeEmitter(section, deps),
};
