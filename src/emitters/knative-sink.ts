import Joi from 'joi';
import type { Logger } from 'pino';
import { transportReason } from './http';
import { isKubernetesStatus, KubernetesCredentialsError, objectName, type KubernetesClient } from './kubernetes-client';
import { DeliveryError } from './types';

/** A Knative `KReference`: the object whose address is the sink. All empty: no reference. */
export interface SinkReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

/** `emitters.knative.sink`, as Knative sources spell a destination. */
export interface SinkSettings {
  /** Without a ref: the absolute URL. With one: a path resolved against the ref's address. */
  uri: string;
  ref: SinkReference;
}

/**
 * The kinds a ref may name, with the API resource the chart's Role grants. A kind is found by
 * its resource name, which discovery would be needed to derive, so the list is closed.
 */
export const ADDRESSABLE_KINDS = [
  { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', resource: 'brokers' },
  { apiVersion: 'serving.knative.dev/v1', kind: 'Service', resource: 'services' },
  { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', resource: 'channels' },
  { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', resource: 'inmemorychannels' },
  { apiVersion: 'v1', kind: 'Service', resource: 'services' },
] as const;

/** Knative's own rule for a core Service: its cluster DNS name, port 80. */
const CLUSTER_DOMAIN = 'svc.cluster.local';
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

export function isReferenceSet(ref: SinkReference): boolean {
  return Boolean(ref.apiVersion || ref.kind || ref.name || ref.namespace);
}

export function describeReference(ref: SinkReference): string {
  return `${ref.kind} ${ref.namespace}/${ref.name} (${ref.apiVersion})`;
}

function addressableKind(ref: SinkReference) {
  return ADDRESSABLE_KINDS.find((k) => k.apiVersion === ref.apiVersion && k.kind === ref.kind);
}

const KIND_LIST = ADDRESSABLE_KINDS.map((k) => `${k.apiVersion} ${k.kind}`).join(', ');

/**
 * The sink's schema. Which of brokerURL, sink.uri and sink.ref is given is checked against the
 * section (`ancestors[0]`), so that an enabled emitter with none of them, or with two, is
 * refused by `validate` rather than when the first event arrives.
 */
export const sinkSchema = Joi.object<SinkSettings, true>({
  uri: Joi.string().allow('').default(''),
  ref: Joi.object<SinkReference, true>({
    apiVersion: Joi.string().allow('').default(''),
    kind: Joi.string().allow('').default(''),
    name: objectName.allow('').default(''),
    namespace: objectName.allow('').default(''),
  }).default(),
})
  .default()
  .custom((sink: SinkSettings, helpers) => {
    const section = (helpers.state.ancestors as Record<string, unknown>[])[0] ?? {};
    const hasRef = isReferenceSet(sink.ref);
    if (hasRef) {
      const missing = (['apiVersion', 'kind', 'name', 'namespace'] as const).filter((k) => !sink.ref[k]);
      if (missing.length > 0) return helpers.error('sink.partialRef', { missing: missing.join(', ') });
      if (!addressableKind(sink.ref)) return helpers.error('sink.kind', { kinds: KIND_LIST });
      if (URL_SCHEME.test(sink.uri)) return helpers.error('sink.absoluteWithRef');
    } else if (
      sink.uri &&
      Joi.string()
        .uri({ scheme: ['http', 'https'] })
        .validate(sink.uri).error
    ) {
      return helpers.error('sink.uri');
    }
    const named = hasRef || sink.uri !== '';
    if (named && section.brokerURL) return helpers.error('sink.twice');
    if (!named && !section.brokerURL && section.enabled === true) return helpers.error('sink.none');
    return sink;
  })
  .messages({
    'sink.partialRef': '{{#label}}.ref must name apiVersion, kind, name and namespace (missing: {{#missing}})',
    'sink.kind': '{{#label}}.ref must be one of: {{#kinds}}',
    'sink.absoluteWithRef':
      '{{#label}}.uri must be a relative path when a ref is given: it is resolved against the ref',
    'sink.uri': '{{#label}}.uri must be an http or https URL',
    'sink.twice': '{{#label}} and brokerURL both name a sink: keep one (brokerURL is shorthand for sink.uri)',
    'sink.none':
      '{{#label}}: the knative emitter is enabled but has no sink: set sink.ref, sink.uri or brokerURL, ' +
      'or make the gateway the subject of a SinkBinding (which sets K_SINK)',
  });

/** Where events go now. */
export interface SinkAddress {
  /** The address to post to; a retryable DeliveryError while it cannot be resolved. */
  current(): Promise<string>;
  /** After a failed post to `url`: the address read afresh when it has moved, else undefined. */
  moved(url: string): Promise<string | undefined>;
  /** For a person (the console's preview): the address as last known, or the ref while unresolved. */
  describe(): string;
  close(): void;
}

export class FixedSink implements SinkAddress {
  constructor(private readonly url: string) {}

  current(): Promise<string> {
    return Promise.resolve(this.url);
  }

  moved(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  describe(): string {
    return this.url;
  }

  close(): void {}
}

export interface ReferencedSinkOptions {
  /** How long a resolved address is used before the object is read again. */
  intervalMs: number;
  logger?: Logger;
  clock?: () => number;
}

/**
 * A sink named by a ref, read through the Kubernetes API as Knative resolves it: the object's
 * `status.address.url`, or a core Service's cluster DNS name. Read again once `intervalMs` has
 * passed and after a failed post, so a Broker recreated elsewhere is followed without a restart.
 */
export class ReferencedSink implements SinkAddress {
  private resolved?: { url: string; at: number };
  /** Concurrent deliveries wait for one read rather than each making its own. */
  private reading?: Promise<string>;
  private readonly path: string;
  private readonly what: string;
  private readonly clock: () => number;

  constructor(
    private readonly ref: SinkReference,
    private readonly relativeUri: string,
    private readonly kubernetes: KubernetesClient,
    private readonly options: ReferencedSinkOptions,
  ) {
    const kind = addressableKind(ref);
    if (!kind) throw new Error(`knative sink: ${describeReference(ref)} is not one of: ${KIND_LIST}`);
    const base = ref.apiVersion === 'v1' ? '/api/v1' : `/apis/${ref.apiVersion}`;
    this.path = `${base}/namespaces/${encodeURIComponent(ref.namespace)}/${kind.resource}/${encodeURIComponent(ref.name)}`;
    this.what = `knative sink ${describeReference(ref)}`;
    this.clock = options.clock ?? Date.now;
  }

  describe(): string {
    return this.resolved?.url ?? this.what;
  }

  current(): Promise<string> {
    if (this.resolved && this.clock() - this.resolved.at < this.options.intervalMs) {
      return Promise.resolve(this.resolved.url);
    }
    return this.read();
  }

  async moved(url: string): Promise<string | undefined> {
    const fresh = await this.read().catch(() => undefined);
    return fresh !== undefined && fresh !== url ? fresh : undefined;
  }

  close(): void {
    this.kubernetes.close();
  }

  private read(): Promise<string> {
    this.reading ??= this.fetch().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async fetch(): Promise<string> {
    let response;
    try {
      response = await this.kubernetes.get(this.path);
    } catch (err) {
      const reason = err instanceof KubernetesCredentialsError ? err.message : transportReason(err);
      return this.unreadable(`cannot read it from the Kubernetes API: ${reason}`);
    }
    const { status, body } = response;
    if (status === 404) {
      // Gone (or not made yet): the last address is no longer the object's.
      this.resolved = undefined;
      throw new DeliveryError(`${this.what} not found; events wait until it exists`, true);
    }
    if (status !== 200) {
      const message = isKubernetesStatus(body) && body.message ? `: ${body.message}` : '';
      const hint = status === 401 || status === 403 ? ' (the service account needs get on it: the chart Role)' : '';
      return this.unreadable(`the Kubernetes API answered ${status}${message}${hint}`);
    }
    const address = this.addressOf(body);
    if (typeof address !== 'string') {
      this.resolved = undefined;
      throw new DeliveryError(
        `${this.what} has no address yet (${address.notReady}); events wait until it is ready`,
        true,
      );
    }
    const url = this.relativeUri ? new URL(this.relativeUri, address).toString() : address;
    if (url !== this.resolved?.url)
      this.options.logger?.info({ sink: describeReference(this.ref), url }, 'knative sink resolved');
    this.resolved = { url, at: this.clock() };
    return url;
  }

  /**
   * The API cannot be read: the last address is still the best guess, and is used until the
   * next interval; with none, events wait.
   */
  private unreadable(reason: string): string {
    if (!this.resolved) throw new DeliveryError(`${this.what} cannot be resolved: ${reason}`, true);
    this.options.logger?.warn(
      { sink: describeReference(this.ref), url: this.resolved.url, reason },
      'knative sink not re-read; keeping its last address',
    );
    this.resolved = { url: this.resolved.url, at: this.clock() };
    return this.resolved.url;
  }

  private addressOf(body: unknown): string | { notReady: string } {
    if (this.ref.apiVersion === 'v1') return `http://${this.ref.name}.${this.ref.namespace}.${CLUSTER_DOMAIN}`;
    const status = (body as { status?: { address?: { url?: unknown }; conditions?: unknown } } | null)?.status;
    const url = status?.address?.url;
    if (typeof url === 'string' && /^https?:\/\//i.test(url)) return url;
    const ready = Array.isArray(status?.conditions)
      ? (status.conditions as { type?: string; reason?: string; message?: string }[]).find((c) => c.type === 'Ready')
      : undefined;
    const why = [ready?.reason, ready?.message].filter(Boolean).join(': ');
    return { notReady: `no status.address.url${why ? `; Ready: ${why}` : ''}` };
  }
}
