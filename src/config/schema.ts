import Joi from 'joi';
import { EMITTER_PLUGINS } from '../emitters';
import { EVENT_TYPES, PROVIDERS } from '../model/event';
import { PARSERS } from '../providers';
import { parseSize } from './size';

const provider = Joi.string().valid(...PROVIDERS);
const stringList = Joi.array().items(Joi.string().min(1));

const scopedToken = Joi.object({
  value: Joi.string().min(1).required(),
  providers: Joi.array().items(provider).min(1),
  registries: stringList.min(1),
  repos: stringList.min(1),
});

const filter = Joi.object({
  providers: Joi.array().items(provider),
  types: Joi.array().items(Joi.string().valid(...EVENT_TYPES)),
  registries: stringList,
  repos: stringList,
}).default({});

const emitterSections = Object.fromEntries(
  EMITTER_PLUGINS.map((plugin) => [
    plugin.key,
    Joi.object({
      enabled: Joi.boolean().default(plugin.enabledByDefault),
      filter,
      ...plugin.settings,
    }).default(),
  ]),
);


const size = Joi.alternatives(Joi.string(), Joi.number())
  .custom((value, helpers) => parseSize(value) ?? helpers.error('any.invalid'))
  .messages({ 'any.invalid': '{{#label}} must be a size such as 1mb, 512kb or a byte count' });

/**
 * Keys the Helm chart reads (image, service, ingress...). The gateway reads the same values file
 * (CONTRACT §6), so it accepts them without interpreting them; anything else unknown is refused.
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
];

export const configSchema = Joi.object({
  host: Joi.string().hostname().allow(''),
  tokens: Joi.object()
    .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, Joi.alternatives(Joi.string().min(1), scopedToken))
    .min(1)
    .required()
    .messages({ 'object.min': '{{#label}} must name at least one token' }),
  sources: Joi.object(
    Object.fromEntries(
      PARSERS.map((p) => [
        p.provider,
        Joi.string()
          .pattern(/^[\w:/\-.?=@]{5,63}$/)
          .default(p.defaultSource)
          .messages({ 'string.pattern.base': '{{#label}} must be a Brigade source (5-63 of [\\w:/-.?=@])' }),
      ]),
    ),
  ).default(),
  registryAliases: Joi.object().pattern(Joi.string(), Joi.string().min(1)).default({}),
  defaultRegistry: Joi.object(Object.fromEntries(PROVIDERS.map((p) => [p, Joi.string().allow('')]))).default({}),
  providers: Joi.object({
    distribution: Joi.object({ emitPulls: Joi.boolean().default(false) }).default(),
  }).default(),
  emitters: Joi.object(emitterSections).default(),
  delivery: Joi.object({
    store: Joi.string().valid('sqlite', 'postgres').default('sqlite'),
    dir: Joi.string().min(1).default('/var/lib/registry-gateway'),
    postgres: Joi.object({
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
      // Read by the chart only, which turns it into DATABASE_URL from an existing Secret.
      urlSecret: Joi.object({ name: Joi.string().allow('').default(''), key: Joi.string().allow('').default('') }).default(),
    }).default(),
    maxAttempts: Joi.number().integer().min(1).default(12),
    initialBackoffSeconds: Joi.number().positive().default(1),
    maxBackoffSeconds: Joi.number().positive().default(300),
    dedupWindowSeconds: Joi.number().min(0).default(3600),
    maxPending: Joi.number().integer().min(0).default(100000),
    concurrency: Joi.number().integer().min(1).max(256).default(8),
    deliveredRetentionSeconds: Joi.number().min(0).default(3600),
    // SQLite: the store's byte budget; 0 = 80% of the volume's free space when the store opens.
    maxStoreBytes: Joi.alternatives(Joi.number().valid(0), size).default(0),
  }).default(),
  server: Joi.object({
    port: Joi.number().port().default(8080),
    bodyLimit: size.default(1024 * 1024),
    rateLimit: Joi.object({
      requestsPerSecond: Joi.number().min(0).default(0),
      burst: Joi.number().integer().min(0).default(0),
    }).default(),
    tls: Joi.object({
      enabled: Joi.boolean().default(false),
      certPath: Joi.string().allow('').default('').when('enabled', { is: true, then: Joi.string().min(1).required() }),
      keyPath: Joi.string().allow('').default('').when('enabled', { is: true, then: Joi.string().min(1).required() }),
    }).default(),
    shutdownTimeoutSeconds: Joi.number().positive().default(25),
  }).default(),
  logLevel: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace').default('info'),
  ...Object.fromEntries(CHART_KEYS.map((k) => [k, Joi.any()])),
})
  .custom((config, helpers) => {
    if (!Object.values(config.emitters ?? {}).some((s) => (s as { enabled?: boolean }).enabled)) {
      return helpers.error('gateway.noEmitter');
    }
    const seen = new Map<string, string>();
    for (const [name, token] of Object.entries(config.tokens ?? {})) {
      const value = typeof token === 'string' ? token : (token as { value: string }).value;
      const other = seen.get(value);
      if (other) return helpers.error('gateway.sameToken', { a: other, b: name });
      seen.set(value, name);
    }
    if (config.delivery.initialBackoffSeconds > config.delivery.maxBackoffSeconds) {
      return helpers.error('gateway.backoff');
    }
    if (config.delivery.store === 'postgres' && !config.delivery.postgres.url) {
      return helpers.error('gateway.postgresUrl');
    }
    return config;
  })
  .messages({
    'gateway.noEmitter': 'emitters: no emitter is enabled, so no event could go anywhere',
    'gateway.sameToken': 'tokens.{{#a}} and tokens.{{#b}} have the same value: each token must be distinct',
    'gateway.backoff': 'delivery.initialBackoffSeconds must not exceed delivery.maxBackoffSeconds',
    'gateway.postgresUrl':
      'delivery.postgres.url is required when delivery.store is postgres (or set the DATABASE_URL environment variable)',
  });
