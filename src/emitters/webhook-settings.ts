import { readFileSync } from 'node:fs';
import Joi from 'joi';
import { EVENT_FILTER_SCHEMA_ID } from '../config/parts';
import type { ContentMode } from './cloudevent';
import type { EmitterSectionBase, EventFilter, OwnSettings } from './types';
import { secretKey } from './webhook-signature';

/** Where a secret kept out of the values file is read when the gateway starts. */
export type SecretSource = { env: string } | { file: string };

/** One receiving endpoint: its own URL, filter, secret, body format, and so its own lane. */
export interface WebhookEndpoint {
  /** Names the delivery rows (`webhook/<name>`), metrics and console entries of this endpoint. */
  name: string;
  url: string;
  /** Narrows the section's `filter` for this endpoint; absent = every event the section takes. */
  filter?: EventFilter;
  /** Sent as given on every request; values under credential-like names are hidden in previews. */
  headers: Record<string, string>;
  /** `whsec_<base64>`; or `secretFrom`. */
  secret?: string;
  secretFrom?: SecretSource;
  /** `event`: the normalised event as JSON; `cloudevent`: the same as a CloudEvent 1.0. */
  format: 'event' | 'cloudevent';
  /** CloudEvents content mode; read with `format: cloudevent` only. */
  mode: ContentMode;
  timeoutSeconds: number;
}

export interface WebhookSection extends EmitterSectionBase {
  endpoints: WebhookEndpoint[];
}

/** Headers the signature and the body format set: a configured one would contradict them. */
const RESERVED_HEADERS = /^(webhook-id|webhook-timestamp|webhook-signature|content-type|content-length|ce-.*)$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const secretSchema = Joi.string()
  .custom((value: string, helpers) => {
    const read = secretKey(value);
    return 'key' in read ? value : helpers.error('webhook.secret', { problem: read.problem });
  })
  .messages({ 'webhook.secret': '{{#label}} {{#problem}}' });

const endpointSchema = Joi.object<WebhookEndpoint, true>({
  name: Joi.string()
    .pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    .required()
    .messages({ 'string.pattern.base': '{{#label}} must be lower-case letters, digits and - (at most 63)' }),
  url: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .required(),
  // The routing filter every section has, resolved at the values schema's root: one schema, one meaning.
  filter: Joi.link(`#${EVENT_FILTER_SCHEMA_ID}`) as unknown as Joi.ObjectSchema<EventFilter>,
  headers: Joi.object()
    .pattern(Joi.string(), Joi.string().pattern(/^[^\r\n]*$/))
    .custom((headers: Record<string, string>, helpers) => {
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME.test(name)) return helpers.error('webhook.headerName', { name });
        if (RESERVED_HEADERS.test(name)) return helpers.error('webhook.headerReserved', { name });
      }
      return headers;
    })
    .messages({
      'webhook.headerName': '{{#label}}: {{#name}} is not an HTTP header name',
      'webhook.headerReserved': '{{#label}}: {{#name}} is set by the webhook target itself (signature, body format)',
    })
    .default({}),
  secret: secretSchema,
  secretFrom: Joi.object({ env: Joi.string().min(1), file: Joi.string().min(1) })
    .xor('env', 'file')
    .messages({ 'object.xor': '{{#label}} takes env or file, not both' }) as unknown as Joi.AlternativesSchema,
  format: Joi.string().valid('event', 'cloudevent').default('event'),
  mode: Joi.string().valid('binary', 'structured').default('binary'),
  timeoutSeconds: Joi.number().positive().default(10),
})
  .xor('secret', 'secretFrom')
  .messages({
    'object.missing': '{{#label}} needs secret or secretFrom: every request is signed (Standard Webhooks)',
    'object.xor': '{{#label}} takes secret or secretFrom, not both',
  });

export const webhookSettings: Joi.StrictSchemaMap<OwnSettings<WebhookSection>> = {
  endpoints: Joi.array()
    .items(endpointSchema)
    .unique('name')
    .default([])
    // An enabled section without endpoints would accept events and deliver them nowhere.
    .when('enabled', { is: true, then: Joi.array().min(1) })
    .messages({
      'array.unique': '{{#label}} repeats the endpoint name {{#value.name}}',
      'array.min': '{{#label}}: the webhook emitter is enabled, so list at least one endpoint',
    }),
};

/** An endpoint as the emitter uses it: defaults filled, its secret read and decoded. */
export interface ResolvedEndpoint extends Omit<WebhookEndpoint, 'secret' | 'secretFrom'> {
  key: Buffer;
}

/**
 * The endpoint with its signing key, read from the values, the environment or a file. Throws,
 * naming the endpoint and where it looked but never the text found, when the secret is missing
 * or not a `whsec_` secret.
 */
export function resolveEndpoint(given: WebhookEndpoint, env: NodeJS.ProcessEnv = process.env): ResolvedEndpoint {
  // The filter's schema lives at the values schema's root; given here, it was checked there.
  const result: Joi.ValidationResult<WebhookEndpoint> = endpointSchema.validate(
    { ...given, filter: undefined },
    { abortEarly: false },
  );
  if (result.error) throw new Error(`webhook endpoint ${given.name}: ${result.error.message}`);
  const checked: WebhookEndpoint = { ...result.value, filter: given.filter };
  const { secret, secretFrom, ...endpoint } = checked;
  const where = secretFrom
    ? 'env' in secretFrom
      ? `environment variable ${secretFrom.env}`
      : `file ${secretFrom.file}`
    : 'secret';
  const text = secret ?? readSecret(secretFrom!, env, endpoint.name, where);
  const read = secretKey(text);
  if ('problem' in read) throw new Error(`webhook endpoint ${endpoint.name}: the ${where} ${read.problem}`);
  return { ...endpoint, key: read.key };
}

function readSecret(source: SecretSource, env: NodeJS.ProcessEnv, name: string, where: string): string {
  if ('env' in source) {
    const text = env[source.env];
    if (!text) throw new Error(`webhook endpoint ${name}: the ${where} is not set`);
    return text;
  }
  try {
    return readFileSync(source.file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`webhook endpoint ${name}: cannot read the ${where} (${code})`, { cause: err });
  }
}
