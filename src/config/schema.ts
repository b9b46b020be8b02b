import Joi from 'joi';
import { EVENT_TYPES } from '../model/event';
import type { ConfigParts, EmitterConfigPart, ProviderConfigPart } from './parts';
import { parseSize } from './size';
import type { DeliverySettings, GatewayConfig, ServerSettings, TokenSpec } from './types';

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
];

const delivery = Joi.object<DeliverySettings, true>({
  dir: Joi.string().min(1).default('/var/lib/registry-gateway'),
  maxAttempts: Joi.number().integer().min(1).default(12),
  initialBackoffSeconds: Joi.number().positive().default(1),
  maxBackoffSeconds: Joi.number().positive().default(300),
  dedupWindowSeconds: Joi.number().min(0).default(3600),
  maxPending: Joi.number().integer().min(0).default(100000),
  concurrency: Joi.number().integer().min(1).max(256).default(8),
  deliveredRetentionSeconds: Joi.number().min(0).default(3600),
}).default();

const tlsPath = Joi.string()
  .allow('')
  .default('')
  .when('enabled', { is: true, then: Joi.string().min(1).required() });

const server = Joi.object<ServerSettings, true>({
  port: Joi.number().port().default(8080),
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
  const scopedToken = Joi.object<TokenSpec, true>({
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

  const { sources, defaultRegistry, providers } = providerSections(parts.providers);
  return Joi.object<GatewayConfig, true>({
    host: Joi.string().hostname().allow(''),
    tokens: Joi.object()
      .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, Joi.alternatives(Joi.string().min(1), scopedToken))
      .min(1)
      .required()
      .messages({ 'object.min': '{{#label}} must name at least one token' }),
    sources,
    registryAliases: Joi.object().pattern(Joi.string(), Joi.string().min(1)).default({}),
    defaultRegistry,
    providers,
    emitters: emitterSections(parts.emitters, filter),
    delivery,
    server,
    logLevel: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace').default('info'),
  })
    .keys(Object.fromEntries(CHART_KEYS.map((k) => [k, Joi.any()])))
    .custom((config: GatewayConfig, helpers) => {
      // Sections refused above leave holes: these checks run on whatever is there.
      if (!Object.values(config.emitters ?? {}).some((s) => s.enabled)) {
        return helpers.error('gateway.noEmitter');
      }
      const seen = new Map<string, string>();
      for (const [name, token] of Object.entries(config.tokens ?? {})) {
        const value = typeof token === 'string' ? token : token.value;
        const other = seen.get(value);
        if (other) return helpers.error('gateway.sameToken', { a: other, b: name });
        seen.set(value, name);
      }
      if (config.delivery.initialBackoffSeconds > config.delivery.maxBackoffSeconds) {
        return helpers.error('gateway.backoff');
      }
      return config;
    })
    .messages({
      'gateway.noEmitter': 'emitters: no emitter is enabled, so no event could go anywhere',
      'gateway.sameToken': 'tokens.{{#a}} and tokens.{{#b}} have the same value: each token must be distinct',
      'gateway.backoff': 'delivery.initialBackoffSeconds must not exceed delivery.maxBackoffSeconds',
    });
}
