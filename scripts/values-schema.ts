/**
 * Writes charts/registry-gateway/values.schema.json: the gateway's own keys converted from its
 * joi schema (so the two cannot drift: test/charts/values-schema.test.ts fails when the file is
 * stale), plus the chart's keys, which the gateway accepts without reading and are described
 * here. Helm checks values against it on lint, template, install and upgrade.
 *
 *   npx tsx scripts/values-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../src/gateway';

type Json = Record<string, unknown>;
interface Described {
  type: string;
  flags?: { only?: boolean; presence?: string };
  allow?: unknown[];
  rules?: { name: string; args?: Record<string, unknown> }[];
  keys?: Record<string, Described>;
  patterns?: { regex?: string; schema?: Described; rule: Described }[];
  items?: Described[];
  matches?: { schema?: Described; then?: Described }[];
}

export const SCHEMA_PATH = path.resolve(__dirname, '..', 'charts', 'registry-gateway', 'values.schema.json');

const str: Json = { type: 'string' };
const int: Json = { type: 'integer' };
const bool: Json = { type: 'boolean' };
const stringMap: Json = { type: 'object', additionalProperties: { type: 'string' } };
const anyList: Json = { type: 'array' };
const anyMap: Json = { type: 'object' };
const secretRef: Json = {
  type: 'object',
  additionalProperties: false,
  properties: { name: str, key: { type: 'string', minLength: 1 } },
};
function obj(properties: Json, extra: Json = {}): Json {
  return { type: 'object', additionalProperties: false, properties, ...extra };
}
const objectList: Json = { type: 'array', items: { type: 'object' } };
const namedList: Json = { type: 'array', items: { type: 'object', required: ['name'] } };
/** Probe timings merged over the chart's probe; the handler stays the chart's. */
const probeTimings: Json = {
  initialDelaySeconds: { type: 'integer', minimum: 0 },
  periodSeconds: { type: 'integer', minimum: 1 },
  timeoutSeconds: { type: 'integer', minimum: 1 },
  failureThreshold: { type: 'integer', minimum: 1 },
  successThreshold: { type: 'integer', minimum: 1 },
};

/** The chart's own keys: Kubernetes objects pass through, so only their outer shape is checked. */
const CHART_KEYS: Json = {
  global: { type: 'object', description: 'Set by Helm when the chart is a dependency.' },
  image: obj({
    repository: { type: 'string', minLength: 1 },
    tag: str,
    digest: { type: 'string', pattern: '^(sha256:[a-f0-9]{64})?$' },
    pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
  }),
  imagePullSecrets: anyList,
  replicaCount: { type: ['integer', 'null'], minimum: 1 },
  nameOverride: str,
  fullnameOverride: str,
  service: obj({
    type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
    port: { type: ['integer', 'null'], minimum: 1, maximum: 65535 },
    annotations: stringMap,
    loadBalancerSourceRanges: { type: 'array', items: { type: 'string', minLength: 1 } },
    adminPort: { type: 'integer', minimum: 1, maximum: 65535 },
  }),
  ingress: obj({ enabled: bool, className: str, annotations: stringMap, tlsSecretName: str }),
  persistence: obj({
    enabled: bool,
    existingClaim: str,
    size: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$' },
    storageClass: str,
    accessMode: { enum: ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany'] },
  }),
  resources: anyMap,
  nodeSelector: stringMap,
  tolerations: anyList,
  affinity: anyMap,
  podAnnotations: stringMap,
  podSecurityContext: anyMap,
  securityContext: anyMap,
  serviceAccount: obj({
    create: bool,
    name: str,
    annotations: stringMap,
    kubeappsRole: bool,
    knativeSinkRole: bool,
    gitopsRoles: bool,
  }),
  serviceMonitor: obj({
    enabled: bool,
    interval: str,
    scrapeTimeout: str,
    labels: stringMap,
    relabelings: objectList,
    metricRelabelings: objectList,
  }),
  extraEnv: { type: 'array', items: { type: 'object', required: ['name'] } },
  tokensSecret: secretRef,
  existingSecrets: obj({
    brigadeApiToken: secretRef,
    knativeBrokerURL: secretRef,
    kubeappsToken: secretRef,
    fluxReceiverToken: secretRef,
    consoleTokens: secretRef,
    // One environment variable per webhook endpoint secret, read with secretFrom: {env}.
    webhookSecrets: {
      type: 'array',
      items: obj(
        {
          env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          name: { type: 'string', minLength: 1 },
          key: { type: 'string', minLength: 1 },
        },
        { required: ['env', 'name', 'key'] },
      ),
    },
  }),
  tls: obj({
    mode: { enum: ['none', 'selfSigned', 'secret', 'certManager'] },
    secretName: str,
    issuerRef: obj({ name: str, kind: { enum: ['Issuer', 'ClusterIssuer'] }, group: str }),
    dnsNames: { type: 'array', items: { type: 'string', minLength: 1 } },
  }),
  pdb: obj({ enabled: bool, maxUnavailable: { type: ['integer', 'string'] } }),
  autoscaling: obj({
    enabled: bool,
    minReplicas: { type: 'integer', minimum: 1 },
    maxReplicas: { type: 'integer', minimum: 1 },
    targetCPUUtilizationPercentage: { type: 'integer', minimum: 1 },
    targetMemoryUtilizationPercentage: { type: ['integer', 'null'], minimum: 1 },
  }),
  topologySpreadConstraints: anyList,
  networkPolicy: obj({
    enabled: bool,
    webhookFrom: anyList,
    metricsNamespace: str,
    targetEgress: anyList,
    databaseTo: anyList,
    databasePort: { ...int, minimum: 1, maximum: 65535 },
  }),
  prometheusRule: obj({ enabled: bool, labels: stringMap, pendingThreshold: { type: 'integer', minimum: 0 } }),
  helmTest: obj({ tokenSecret: secretRef }),
  commonLabels: stringMap,
  podLabels: stringMap,
  priorityClassName: str,
  revisionHistoryLimit: { type: 'integer', minimum: 0 },
  startupProbe: obj({ enabled: bool, ...probeTimings }),
  livenessProbe: obj(probeTimings),
  readinessProbe: obj(probeTimings),
  sidecars: namedList,
  initContainers: namedList,
  extraVolumes: namedList,
  extraVolumeMounts: { type: 'array', items: { type: 'object', required: ['name', 'mountPath'] } },
  envFrom: objectList,
  extraObjects: { type: 'array', items: { type: ['object', 'string'] } },
  httpRoute: obj({ enabled: bool, parentRefs: namedList, annotations: stringMap }),
};

function rule(d: Described, name: string): Record<string, unknown> | undefined {
  return d.rules?.find((r) => r.name === name)?.args ?? (d.rules?.some((r) => r.name === name) ? {} : undefined);
}

/** One joi description as JSON Schema: the shapes the gateway's schema uses, no more. */
export function toJsonSchema(d: Described): Json {
  const allowed = (d.allow ?? []).filter((v) => typeof v !== 'object' || v === null);
  let out: Json;
  switch (d.type) {
    case 'object': {
      out = { type: 'object' };
      if (d.keys) {
        out.properties = Object.fromEntries(Object.entries(d.keys).map(([k, v]) => [k, toJsonSchema(v)]));
        out.additionalProperties = false;
      }
      const byRegex = (d.patterns ?? []).filter((p) => p.regex);
      if (byRegex.length > 0) {
        out.patternProperties = Object.fromEntries(
          byRegex.map((p) => [String(p.regex).replace(/^\/|\/$/g, ''), toJsonSchema(p.rule)]),
        );
        out.additionalProperties = false;
      }
      // A key pattern that is a joi schema (any string key): every value has the rule's shape.
      const byKeySchema = (d.patterns ?? []).find((p) => !p.regex);
      if (byKeySchema) out.additionalProperties = toJsonSchema(byKeySchema.rule);
      break;
    }
    case 'string':
      out = d.flags?.only ? { enum: allowed.filter((v) => v !== null) } : { type: 'string' };
      if (rule(d, 'min')) out.minLength = rule(d, 'min')!.limit;
      break;
    case 'number': {
      out = { type: rule(d, 'integer') || rule(d, 'port') ? 'integer' : 'number' };
      if (rule(d, 'port')) Object.assign(out, { minimum: 0, maximum: 65535 });
      if (rule(d, 'min')) out.minimum = rule(d, 'min')!.limit;
      if (rule(d, 'max')) out.maximum = rule(d, 'max')!.limit;
      if (rule(d, 'positive')) out.exclusiveMinimum = 0;
      break;
    }
    case 'boolean':
      out = { type: 'boolean' };
      break;
    case 'array':
      out = { type: 'array' };
      if (d.items?.length === 1) out.items = toJsonSchema(d.items[0]);
      break;
    case 'alternatives':
      out = { anyOf: (d.matches ?? []).map((m) => toJsonSchema((m.schema ?? m.then)!)) };
      break;
    default:
      out = {};
  }
  if (allowed.includes(null) && !d.flags?.only) out = { anyOf: [out, { type: 'null' }] };
  return out;
}

export function valuesSchema(): Json {
  const described = configSchema.describe() as Described;
  const properties: Json = {};
  for (const [key, child] of Object.entries(described.keys ?? {})) {
    // Chart keys are `any` to the gateway; their shape is the chart's.
    properties[key] = child.type === 'any' ? CHART_KEYS[key] : toJsonSchema(child);
    if (properties[key] === undefined) throw new Error(`chart key ${key} has no schema in scripts/values-schema.ts`);
  }
  properties.global = CHART_KEYS.global;
  // delivery.postgres.urlSecret is the chart's too.
  const postgres = ((properties.delivery as Json).properties as Json).postgres as Json;
  (postgres.properties as Json).urlSecret = secretRef;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'registry-gateway chart values (generated by scripts/values-schema.ts)',
    type: 'object',
    additionalProperties: false,
    properties,
  };
}

export function renderValuesSchema(): string {
  return `${JSON.stringify(valuesSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const text = renderValuesSchema();
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_PATH, 'utf8') !== text) {
      process.stderr.write(`${SCHEMA_PATH} is stale: run npx tsx scripts/values-schema.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_PATH, text);
  }
}
