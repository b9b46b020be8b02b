import Joi from 'joi';
import { EVENT_TYPES, TAG_CHANGES } from '../model/event';
import { EVENT_FILTER_SCHEMA_ID, type ConfigParts, type EmitterConfigPart, type ProviderConfigPart } from './parts';
import { consoleSchema } from './console';
import { parseSize } from './size';
import { tokensSchema } from './tokens-file';
import type { CollapseSettings, DeliverySettings, GatewayConfig, RequestLogSettings, ServerSettings } from './types';

const stringList = Joi.array().items(Joi.string().min(1));

/**
 * A byte count; `1mb`-style strings are converted. Typed as the number it becomes: joi's types
 * describe the input schema and cannot follow the conversion.
 */
const size = Joi.alternatives(Joi.string(), Joi.number())
  .custom((value: string | number, helpers) => parseSize(value) ?? helpers.error('any.invalid'))
  .messages({
    'any.invalid': '{{#label}} must be a size such as 1mb, 512kb or a byte count',
  }) as unknown as Joi.NumberSchema;

const source = Joi.string()
  .pattern(/^[\w:/\-.?=@]{5,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} must be a Brigade source (5-63 of [\\w:/-.?=@])' });

/**
 * Keys the Helm chart reads (image, service, ingress...). The gateway reads the same values file
 * as the chart, so one file configures both; it accepts these without interpreting them, and
 * anything else unknown is refused.
 */
const CHART_KEYS = [
  'image',
  'imagePullSecrets',
  'replicaCount',
  'nameOverride',
  'fullnameOverride',
  'service',
  'ingress',
  'persistence',
  'resources',
  'nodeSelector',
  'tolerations',
  'affinity',
  'podAnnotations',
  'podSecurityContext',
  'securityContext',
  'serviceAccount',
  'serviceMonitor',
  'extraEnv',
  'tokensSecret',
  'existingSecrets',
  'tls',
  'pdb',
  'autoscaling',
  'topologySpreadConstraints',
  'networkPolicy',
  'prometheusRule',
  'helmTest',
  'commonLabels',
  'podLabels',
  'priorityClassName',
  'revisionHistoryLimit',
  'startupProbe',
  'livenessProbe',
  'readinessProbe',
  'sidecars',
  'initContainers',
  'extraVolumes',
  'extraVolumeMounts',
  'envFrom',
  'extraObjects',
  'httpRoute',
];

const collapse = Joi.object<CollapseSettings, true>({
  windowSeconds: Joi.number().min(0).max(600).default(10),
  orphans: Joi.string().valid('deliver', 'drop').default('deliver'),
  manifests: Joi.object({
    timeoutMs: Joi.number().integer().min(50).max(30_000).default(2000),
    maxBytes: Joi.number()
      .integer()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    registries: Joi.array()
      .items(
        Joi.object({
          host: Joi.string().min(1).lowercase().required(),
          endpoint: Joi.string()
            .uri({ scheme: ['http', 'https'] })
            .required(),
          username: Joi.string().allow('').default(''),
          password: Joi.string().allow('').default(''),
          passwordFile: Joi.string().allow('').default(''),
        }),
      )
      .default([]),
  }).default(),
}).default();

const delivery = Joi.object<DeliverySettings, true>({
  store: Joi.string().valid('sqlite', 'postgres').default('sqlite'),
  dir: Joi.string().min(1).default('/var/lib/registry-gateway'),
  postgres: Joi.object<DeliverySettings['postgres'], true>({
    url: Joi.string()
      .allow('')
      .default('')
      .pattern(/^postgres(ql)?:\/\//)
      .messages({ 'string.pattern.base': '{{#label}} must be a postgres:// URL' }),
    poolSize: Joi.number().integer().min(1).max(200).default(10),
    // A schema name becomes an SQL identifier and a NOTIFY channel name (63 bytes at most).
    schema: Joi.string()
      .pattern(/^[a-z_][a-z0-9_]{0,44}$/)
      .default('registry_gateway')
      .messages({ 'string.pattern.base': '{{#label}} must be lower-case letters, digits and _ (at most 45)' }),
    leaseSeconds: Joi.number().min(1).default(60),
    // The chart turns it into DATABASE_URL from that Secret; the gateway never reads it.
    urlSecret: Joi.object({ name: Joi.string().allow(''), key: Joi.string().allow('') }),
  }).default(),
  maxAttempts: Joi.number().integer().min(1).default(12),
  initialBackoffSeconds: Joi.number().positive().default(1),
  maxBackoffSeconds: Joi.number().positive().default(300),
  dedupWindowSeconds: Joi.number().min(0).default(3600),
  maxPending: Joi.number().integer().min(0).default(100000),
  concurrency: Joi.number().integer().min(1).max(256).default(8),
  worker: Joi.boolean().default(true),
  deliveredRetentionSeconds: Joi.number().min(0).default(3600),
  // SQLite: the store's byte budget; 0 = 80% of the volume's free space when the store opens.
  maxStoreBytes: (Joi.alternatives(Joi.number().valid(0), size) as unknown as Joi.NumberSchema).default(0),
}).default();

const tlsPath = Joi.string()
  .allow('')
  .default('')
  .when('enabled', { is: true, then: Joi.string().min(1).required() });

const server = Joi.object<ServerSettings, true>({
  port: Joi.number().port().default(8080),
  // null: the console and /metrics share the webhook port, as `make run` has them.
  adminPort: Joi.number().port().allow(null).default(null),
  bodyLimit: size.default(1024 * 1024),
  rateLimit: Joi.object<ServerSettings['rateLimit'], true>({
    requestsPerSecond: Joi.number().min(0).default(0),
    burst: Joi.number().integer().min(0).default(0),
  }).default(),
  tls: Joi.object<ServerSettings['tls'], true>({
    enabled: Joi.boolean().default(false),
    certPath: tlsPath,
    keyPath: tlsPath,
  }).default(),
  shutdownTimeoutSeconds: Joi.number().positive().default(25),
}).default();

function byName<T>(entries: readonly T[], key: (entry: T) => string, schema: (entry: T) => Joi.Schema) {
  return Object.fromEntries(entries.map((entry) => [key(entry), schema(entry)]));
}

/** `sources`, `defaultRegistry` and `providers`: one key per provider, from the provider list. */
function providerSections(providers: readonly ProviderConfigPart[]) {
  const withOptions = providers.flatMap((p) => (p.options ? [{ name: p.name, options: p.options }] : []));
  return {
    sources: Joi.object(
      byName(
        providers,
        (p) => p.name,
        (p) => source.default(p.defaultSource),
      ),
    ).default(),
    defaultRegistry: Joi.object(
      byName(
        providers,
        (p) => p.name,
        () => Joi.string().allow(''),
      ),
    ).default({}),
    providers: Joi.object(
      byName(
        withOptions,
        (p) => p.name,
        (p) => p.options.default(),
      ),
    ).default(),
  };
}

/** `emitters`: one section per emitter plugin, each with `enabled` and `filter` besides its own keys. */
function emitterSections(emitters: readonly EmitterConfigPart[], filter: Joi.ObjectSchema) {
  return Joi.object(
    byName(
      emitters,
      (e) => e.key,
      (e) => Joi.object({ enabled: Joi.boolean().default(e.enabledByDefault), filter, ...e.settings }).default(),
    ),
  ).default();
}

/** The values-file schema for the given providers and emitters (the wiring passes the real lists). */
export function createConfigSchema(parts: ConfigParts): Joi.ObjectSchema<GatewayConfig> {
  const provider = Joi.string().valid(...parts.providers.map((p) => p.name));
  const filter = Joi.object({
    providers: Joi.array().items(provider),
    types: Joi.array().items(Joi.string().valid(...EVENT_TYPES)),
    registries: stringList,
    repos: stringList,
    changes: Joi.array().items(Joi.string().valid(...TAG_CHANGES)),
  })
    .default({})
    .id(EVENT_FILTER_SCHEMA_ID);

  const { sources, defaultRegistry, providers } = providerSections(parts.providers);
  return Joi.object<GatewayConfig, true>({
    host: Joi.string().hostname().allow(''),
    // Resolved with tokensFile after validation (tokens-file.ts): at least one, each strong, distinct.
    tokens: tokensSchema(provider) as unknown as Joi.ObjectSchema<GatewayConfig['tokens']>,
    tokensFile: Joi.string().allow('').default(''),
    sources,
    registryAliases: Joi.object().pattern(Joi.string(), Joi.string().min(1)).default({}),
    defaultRegistry,
    providers,
    emitters: emitterSections(parts.emitters, filter),
    delivery,
    collapse,
    requests: Joi.object<RequestLogSettings, true>({
      retentionHours: Joi.number().min(0).default(24),
      maxRows: Joi.number().integer().min(0).default(100000),
      keepRefusedBodies: Joi.boolean().default(false),
    }).default(),
    server,
    console: consoleSchema,
    logLevel: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace').default('info'),
    // Read before the schema by observability/tracing-sdk.ts (the SDK must load first); here so
    // a typo is refused and the default is written down.
    tracing: Joi.object({ enabled: Joi.boolean().default(false) }).default(),
  })
    .keys(Object.fromEntries(CHART_KEYS.map((k) => [k, Joi.any()])))
    .shared(filter)
    .custom((config: GatewayConfig, helpers) => {
      // Sections refused above leave holes: these checks run on whatever is there.
      const { port, adminPort } = config.server ?? {};
      if (adminPort !== null && adminPort !== undefined && adminPort !== 0 && adminPort === port) {
        return helpers.error('gateway.adminPort');
      }
      if (!Object.values(config.emitters ?? {}).some((s) => s.enabled)) {
        return helpers.error('gateway.noEmitter');
      }
      if (config.delivery.initialBackoffSeconds > config.delivery.maxBackoffSeconds) {
        return helpers.error('gateway.backoff');
      }
      // With urlSecret the chart supplies the URL as DATABASE_URL when the pod starts.
      const { url, urlSecret } = config.delivery.postgres;
      if (config.delivery.store === 'postgres' && !url && !urlSecret?.name) {
        return helpers.error('gateway.postgresUrl');
      }
      return config;
    })
    .messages({
      'gateway.adminPort':
        'server.adminPort must differ from server.port: it keeps the console and /metrics off the webhook port',
      'gateway.noEmitter': 'emitters: no emitter is enabled, so no event could go anywhere',
      'gateway.backoff': 'delivery.initialBackoffSeconds must not exceed delivery.maxBackoffSeconds',
      'gateway.postgresUrl':
        'delivery.postgres.url is required when delivery.store is postgres (or set the DATABASE_URL environment variable)',
    });
}
