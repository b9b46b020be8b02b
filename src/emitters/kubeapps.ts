import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import Joi from 'joi';
import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import {
  appRepositoriesFor,
  appRepositoryKey,
  type AppRepositoryRef,
  type AppRepositoryRule,
} from './kubeapps-rules';
import {
  DEFAULT_CA_PATH,
  DEFAULT_TOKEN_PATH,
  isKubernetesStatus,
  KubernetesClient,
  KubernetesCredentialsError,
  type KubernetesConnectionSettings,
} from './kubernetes-client';
import { DeliveryError, type Emitter, type EmitterDeps, type EmitterPlugin, type EmitterSectionBase } from './types';

export type KubeappsMode = 'endpoint' | 'kubernetes';

export interface KubeappsSection extends EmitterSectionBase {
  mode: KubeappsMode;
  /** Kubeapps' address (endpoint mode). */
  address: string;
  /** Bearer token Kubeapps accepts (endpoint mode). */
  token: string;
  debounceSeconds: number;
  repositories: AppRepositoryRule[];
  /** Kubernetes mode: empty = in-cluster. */
  apiServer: string;
  tokenPath: string;
  caPath: string;
  insecureSkipTLSVerify: boolean;
  timeoutSeconds: number;
}

/** What the emitter needs; the config section supplies every key, direct callers only some. */
export type KubeappsSettings = Pick<KubeappsSection, 'repositories'> &
  Partial<Omit<KubeappsSection, 'repositories' | 'enabled' | 'filter'>>;

/** How often a conflicting AppRepository write is read again and retried before giving up. */
const MAX_WRITE_ATTEMPTS = 5;

/** Triggers a re-sync of one AppRepository; throws a classified DeliveryError. */
interface AppRepositoryRefresher {
  refresh(ref: AppRepositoryRef): Promise<void>;
  close(): void;
}

/** Answers worth trying again later; any other refusal (401, 403, 404, 400...) will repeat. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function refusal(ref: AppRepositoryRef, action: string, status: number, body: unknown): DeliveryError {
  let detail = '';
  if (isKubernetesStatus(body)) {
    detail = [body.reason, body.message].filter(Boolean).join(': ');
  } else if (typeof body === 'string') {
    detail = body.trim().slice(0, 200);
  }
  return new DeliveryError(
    `kubeapps: ${action} of AppRepository ${appRepositoryKey(ref)} answered ${status}${detail ? ` (${detail})` : ''}`,
    isRetryableStatus(status),
    status,
  );
}

/** Any failure of a refresh as a DeliveryError: refusals pass through, the rest is transport or setup. */
function classifiedFailure(ref: AppRepositoryRef, action: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof KubernetesCredentialsError) {
    return new DeliveryError(`kubeapps: ${action} of AppRepository ${appRepositoryKey(ref)}: ${err.message}`, false);
  }
  const reason = axios.isAxiosError(err)
    ? `${err.code ?? 'ERR_UNKNOWN'} ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
  return new DeliveryError(`kubeapps: ${action} of AppRepository ${appRepositoryKey(ref)} failed: ${reason}`, true);
}

/** Kubeapps 2.1 to 2.4: its own refresh endpoint, which bumps the AppRepository for us. */
class RefreshEndpoint implements AppRepositoryRefresher {
  private readonly agent: http.Agent;
  private readonly client: AxiosInstance;

  constructor(
    address: string,
    private readonly token: string,
    timeoutSeconds: number,
    insecureSkipTLSVerify: boolean,
  ) {
    this.agent = address.startsWith('https:')
      ? new https.Agent({ keepAlive: true, rejectUnauthorized: !insecureSkipTLSVerify })
      : new http.Agent({ keepAlive: true });
    this.client = axios.create({
      baseURL: address.replace(/\/+$/, ''),
      timeout: timeoutSeconds * 1000,
      httpAgent: this.agent,
      httpsAgent: this.agent,
      maxRedirects: 0,
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
    });
  }

  async refresh(ref: AppRepositoryRef): Promise<void> {
    const [cluster, namespace, name] = [ref.cluster, ref.namespace, ref.name].map(encodeURIComponent);
    const path = `/api/v1/clusters/${cluster}/namespaces/${namespace}/apprepositories/${name}/refresh`;
    let response;
    try {
      response = await this.client.post(path, undefined, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' },
      });
    } catch (err) {
      const failure = classifiedFailure(ref, 'refresh', err);
      // Belt and braces: no library message should echo a header, but the token must never leak.
      throw this.token && failure.message.includes(this.token)
        ? new DeliveryError(failure.message.split(this.token).join('[redacted]'), failure.retryable, failure.status)
        : failure;
    }
    if (response.status >= 200 && response.status < 300) return;
    throw refusal(ref, 'refresh', response.status, response.data);
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Every Kubeapps version: bumping `spec.resyncRequests` makes its controller re-sync the
 * AppRepository. Read-modify-write with the resourceVersion kept, so a concurrent writer makes
 * the API server answer 409 instead of one update silently overwriting the other.
 */
class ResyncRequestsBump implements AppRepositoryRefresher {
  constructor(private readonly kubernetes: KubernetesClient) {}

  async refresh(ref: AppRepositoryRef): Promise<void> {
    const path =
      `/apis/kubeapps.com/v1alpha1/namespaces/${encodeURIComponent(ref.namespace)}` +
      `/apprepositories/${encodeURIComponent(ref.name)}`;
    try {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const read = await this.kubernetes.get(path);
        if (read.status !== 200 || typeof read.body !== 'object' || read.body === null) {
          throw refusal(ref, 'read', read.status, read.body);
        }
        const written = await this.kubernetes.put(path, withResyncRequested(read.body as Record<string, unknown>));
        if (written.status >= 200 && written.status < 300) return;
        if (written.status !== 409) throw refusal(ref, 'update', written.status, written.body);
      }
    } catch (err) {
      throw classifiedFailure(ref, 'update', err);
    }
    throw new DeliveryError(
      `kubeapps: update of AppRepository ${appRepositoryKey(ref)} conflicted with other writers ${MAX_WRITE_ATTEMPTS} times`,
      true,
      409,
    );
  }

  close(): void {
    this.kubernetes.close();
  }
}

function withResyncRequested(appRepository: Record<string, unknown>): Record<string, unknown> {
  const spec = (
    typeof appRepository.spec === 'object' && appRepository.spec !== null ? appRepository.spec : {}
  ) as Record<string, unknown>;
  const current = Number.isInteger(spec.resyncRequests) ? (spec.resyncRequests as number) : 0;
  return { ...appRepository, spec: { ...spec, resyncRequests: current + 1 } };
}

/** Deliveries waiting for the same AppRepository refresh. */
interface OpenWindow {
  ref: AppRepositoryRef;
  deliveries: number;
  timer: NodeJS.Timeout;
  /** Settles `result` as the refresh settles. */
  settle: (refresh: Promise<void>) => void;
  result: Promise<void>;
}

/**
 * Coalesces refreshes per AppRepository: the first delivery opens a window, later ones join it,
 * and when the window ends one refresh runs and settles every joined delivery. Trailing edge, so
 * the refresh comes after the last push in the window and the index includes it.
 */
class RefreshWindows {
  private readonly open = new Map<string, OpenWindow>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly windowMs: number,
    private readonly refresh: (ref: AppRepositoryRef, deliveries: number) => Promise<void>,
  ) {}

  join(ref: AppRepositoryRef): Promise<void> {
    const key = appRepositoryKey(ref);
    const window = this.open.get(key);
    if (window) {
      window.deliveries++;
      return window.result;
    }
    let settle!: (run: Promise<void>) => void;
    const result = new Promise<void>((resolve) => (settle = resolve));
    const timer = setTimeout(() => this.end(key), this.windowMs);
    this.open.set(key, { ref, deliveries: 1, timer, settle, result });
    return result;
  }

  /** Ends every open window now and waits for all refreshes (shutdown). */
  async flush(): Promise<void> {
    for (const key of [...this.open.keys()]) this.end(key);
    await Promise.all(this.running);
  }

  private end(key: string): void {
    const window = this.open.get(key);
    if (!window) return;
    this.open.delete(key);
    clearTimeout(window.timer);
    const run = this.refresh(window.ref, window.deliveries);
    window.settle(run);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
  }
}

/** Refreshes the Kubeapps AppRepositories that a push or delete changes (CONTRACT §3.3). */
export class KubeappsEmitter implements Emitter {
  readonly name = 'kubeapps';
  private readonly rules: AppRepositoryRule[];
  private readonly refresher: AppRepositoryRefresher;
  private readonly windows: RefreshWindows;
  private readonly logger?: Logger;

  constructor(settings: KubeappsSettings, deps?: Partial<EmitterDeps>, env: NodeJS.ProcessEnv = process.env) {
    this.logger = deps?.logger;
    this.rules = settings.repositories.map((rule) => ({
      ...rule,
      registry: rule.registry.toLowerCase(),
      prefix: rule.prefix ?? '',
      cluster: rule.cluster || 'default',
    }));
    const timeoutSeconds = settings.timeoutSeconds ?? 10;
    const insecure = settings.insecureSkipTLSVerify ?? false;
    if ((settings.mode ?? 'endpoint') === 'kubernetes') {
      const connection: KubernetesConnectionSettings = {
        apiServer: settings.apiServer,
        tokenPath: settings.tokenPath ?? DEFAULT_TOKEN_PATH,
        caPath: settings.caPath ?? DEFAULT_CA_PATH,
        insecureSkipTLSVerify: insecure,
        timeoutSeconds,
      };
      this.refresher = new ResyncRequestsBump(new KubernetesClient(connection, env));
    } else {
      if (!settings.address || !settings.token) {
        throw new Error('kubeapps endpoint mode needs both address and token');
      }
      this.refresher = new RefreshEndpoint(settings.address, settings.token, timeoutSeconds, insecure);
    }
    this.windows = new RefreshWindows((settings.debounceSeconds ?? 10) * 1000, (ref, deliveries) =>
      this.refreshOne(ref, deliveries),
    );
  }

  accepts(event: RegistryEvent): boolean {
    return appRepositoriesFor(this.rules, event).length > 0;
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const targets = appRepositoriesFor(this.rules, event);
    const outcomes = await Promise.allSettled(targets.map((ref) => this.windows.join(ref)));
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [asDeliveryError(o.reason)] : []));
    if (failures.length === 0) return;
    if (failures.length === 1) throw failures[0];
    // Retrying refreshes the ones that worked again too, which is harmless.
    throw new DeliveryError(
      failures.map((f) => f.message).join('; '),
      failures.some((f) => f.retryable),
      failures.find((f) => f.retryable)?.status ?? failures[0].status,
    );
  }

  /** Runs the refreshes still waiting in a window, so no delivery is left unsettled. */
  async close(): Promise<void> {
    await this.windows.flush();
    this.refresher.close();
  }

  private async refreshOne(ref: AppRepositoryRef, deliveries: number): Promise<void> {
    const appRepository = appRepositoryKey(ref);
    try {
      await this.refresher.refresh(ref);
      this.logger?.info({ emitter: this.name, appRepository, deliveries }, 'AppRepository refresh requested');
    } catch (err) {
      this.logger?.warn(
        { emitter: this.name, appRepository, deliveries, error: asDeliveryError(err).message },
        'AppRepository refresh failed',
      );
      throw err;
    }
  }
}

function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  return new DeliveryError(`kubeapps: ${err instanceof Error ? err.message : String(err)}`, true);
}

const httpURL = Joi.string().uri({ scheme: ['http', 'https'] });
/** Kubernetes object names (RFC 1123 subdomains). */
const objectName = Joi.string()
  .max(253)
  .pattern(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
  .messages({ 'string.pattern.base': '{{#label}} must be a Kubernetes name (lower-case letters, digits, - and .)' });

const appRepositoryRule = Joi.object({
  registry: Joi.string().min(1).required(),
  prefix: Joi.string().allow('').default(''),
  ociRepositories: Joi.array().items(Joi.string().min(1)).min(1),
  cluster: Joi.string().min(1).default('default'),
  namespace: objectName.required(),
  name: objectName.required(),
});

/** Required (and non-empty) only when the section is enabled in endpoint mode. */
function neededForEndpointMode(schema: Joi.StringSchema, what: string): Joi.StringSchema {
  const message = `{{#label}} is required when the kubeapps emitter is enabled in endpoint mode (${what})`;
  return schema
    .default('')
    .when('enabled', {
      is: true,
      then: Joi.when('mode', { is: 'endpoint', then: Joi.required(), otherwise: Joi.allow('') }),
      otherwise: Joi.allow(''),
    })
    .messages({ 'any.required': message, 'string.empty': message });
}

export const kubeappsEmitterPlugin: EmitterPlugin<KubeappsSection> = {
  key: 'kubeapps',
  settings: {
    mode: Joi.string().valid('endpoint', 'kubernetes').default('endpoint'),
    address: neededForEndpointMode(httpURL, "Kubeapps' address"),
    token: neededForEndpointMode(Joi.string(), 'a token Kubeapps accepts'),
    debounceSeconds: Joi.number().min(0).default(10),
    repositories: Joi.array()
      .items(appRepositoryRule)
      .default([])
      .when('enabled', { is: true, then: Joi.array().min(1).required() })
      .messages({
        'any.required': '{{#label}} must list at least one AppRepository rule when the kubeapps emitter is enabled',
        'array.min': '{{#label}} must list at least one AppRepository rule when the kubeapps emitter is enabled',
      }),
    apiServer: httpURL.allow('').default(''),
    tokenPath: Joi.string().allow('').default(DEFAULT_TOKEN_PATH),
    caPath: Joi.string().allow('').default(DEFAULT_CA_PATH),
    insecureSkipTLSVerify: Joi.boolean().default(false),
    timeoutSeconds: Joi.number().positive().default(10),
  },
  enabledByDefault: false,
  create: (section, deps) => new KubeappsEmitter(section, deps),
};
