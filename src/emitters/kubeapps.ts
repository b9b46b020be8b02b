import Joi from 'joi';
import type { Logger } from 'pino';
import type { RegistryEvent } from '../model/event';
import { shownUrl } from './exchange';
import type { TargetRequest } from './preview';
import { RefreshEndpoint } from './kubeapps-endpoint';
import type { AppRepositoryRefresher } from './kubeapps-refresher';
import { ResyncRequestsBump } from './kubeapps-resync';
import { appRepositoriesFor, appRepositoryKey, type AppRepositoryRef, type AppRepositoryRule } from './kubeapps-rules';
import { RefreshWindows } from './refresh-windows';
import {
  KUBERNETES_CONNECTION_SETTINGS,
  KubernetesClient,
  objectName,
  type KubernetesConnectionSection,
} from './kubernetes-client';
import { DeliveryError, withDefaults, type Emitter, type EmitterDeps } from './types';
import type { EmitterPlugin, EmitterSectionBase, OwnSettings } from './types';

export type KubeappsMode = 'endpoint' | 'kubernetes';

export interface KubeappsSection extends EmitterSectionBase, KubernetesConnectionSection {
  mode: KubeappsMode;
  /** Kubeapps' address (endpoint mode). */
  address: string;
  /** Bearer token Kubeapps accepts (endpoint mode). */
  token: string;
  debounceSeconds: number;
  repositories: AppRepositoryRule[];
  timeoutSeconds: number;
}

/** What the emitter needs; the config section supplies every key, direct callers only some. */
export type KubeappsSettings = Pick<KubeappsSection, 'repositories'> & Partial<OwnSettings<KubeappsSection>>;

const httpURL = Joi.string().uri({ scheme: ['http', 'https'] });
const appRepositoryRule = Joi.object<AppRepositoryRule, true>({
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

const settingsSchema: Joi.StrictSchemaMap<OwnSettings<KubeappsSection>> = {
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
  // Kubernetes mode: empty apiServer = in-cluster.
  ...KUBERNETES_CONNECTION_SETTINGS,
  timeoutSeconds: Joi.number().positive().default(10),
};

/**
 * Refreshes the Kubeapps AppRepositories that a push or delete changes, so a chart appears in
 * the catalogue without waiting for the next scheduled re-sync (docs/targets.md, Kubeapps).
 */
export class KubeappsEmitter implements Emitter {
  readonly name = 'kubeapps';
  readonly address: string;
  private readonly rules: AppRepositoryRule[];
  private readonly refresher: AppRepositoryRefresher;
  private readonly windows: RefreshWindows<AppRepositoryRef>;
  private readonly logger?: Logger;

  constructor(given: KubeappsSettings, deps?: Partial<EmitterDeps>, env: NodeJS.ProcessEnv = process.env) {
    this.logger = deps?.logger;
    const settings = withDefaults(settingsSchema, given);
    this.rules = settings.repositories.map((rule) => ({ ...rule, registry: rule.registry.toLowerCase() }));
    this.address =
      settings.mode === 'kubernetes'
        ? 'AppRepositories, through the Kubernetes API'
        : `${shownUrl(settings.address)} (refresh endpoint)`;
    if (settings.mode === 'kubernetes') {
      this.refresher = new ResyncRequestsBump(new KubernetesClient(settings, env));
    } else {
      if (!settings.address || !settings.token) {
        throw new Error('kubeapps endpoint mode needs both address and token');
      }
      this.refresher = new RefreshEndpoint(
        settings.address,
        settings.token,
        settings.timeoutSeconds,
        settings.insecureSkipTLSVerify,
      );
    }
    this.windows = new RefreshWindows(
      settings.debounceSeconds * 1000,
      (ref, deliveries) => this.refreshOne(ref, deliveries),
      deps?.sharedWindows,
      this.logger,
    );
  }

  accepts(event: RegistryEvent): boolean {
    return appRepositoriesFor(this.rules, event).length > 0;
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const targets = appRepositoriesFor(this.rules, event);
    const outcomes = await Promise.allSettled(targets.map((ref) => this.windows.join(appRepositoryKey(ref), ref)));
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

  /** One request per AppRepository; a debounce window may merge it with others' in practice. */
  preview(event: RegistryEvent): TargetRequest[] {
    return appRepositoriesFor(this.rules, event).map((ref) => this.refresher.preview(ref));
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

export const kubeappsEmitterPlugin: EmitterPlugin<'kubeapps', KubeappsSection> = {
  key: 'kubeapps',
  settings: settingsSchema,
  enabledByDefault: false,
  create: (section, deps) => new KubeappsEmitter(section, deps),
};
