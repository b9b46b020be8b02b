import Joi from 'joi';
import type { EventType, RegistryEvent } from '../model/event';
import type { TraceContext } from '../observability/tracing';
import { defaultTypePrefix, isValidExtensionName, toCloudEvent, type CloudEvent } from './cloudevent';

/** Knative's `ceOverrides`: extension attributes set on every CloudEvent sent. */
export interface CeOverrides {
  extensions: Record<string, string>;
}

/** How the Knative emitter names what it sends, beyond the CloudEvent the event makes. */
export interface CloudEventNaming {
  typePrefix: string;
  /** Empty: `<prefix>.<type>`; `veba`: the preset; else a template of {prefix}, {type}, {provider}. */
  typeTemplate: string;
  /** Empty: the event's source. */
  source: string;
  ceOverrides: CeOverrides;
}

export const VEBA_PRESET = 'veba';
const PLACEHOLDERS = ['prefix', 'type', 'provider'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;
/** CloudEvents recommends attribute names of at most 20 characters; longer ones are allowed. */
export const RECOMMENDED_NAME_LENGTH = 20;

/**
 * The Harbor "Default" type names the VEBA webhook function lower-cased into its types, by the
 * gateway's type: a CloudEvents-format Harbor event (which names its types differently) gets the
 * name its Default-format twin carries, so Triggers written for VEBA match either format.
 */
const HARBOR_DEFAULT_TYPES: Partial<Record<EventType, string>> = {
  push: 'PUSH_ARTIFACT',
  pull: 'PULL_ARTIFACT',
  delete: 'DELETE_ARTIFACT',
  chart_push: 'UPLOAD_CHART',
  chart_delete: 'DELETE_CHART',
  chart_pull: 'DOWNLOAD_CHART',
  scan_completed: 'SCANNING_COMPLETED',
  scan_failed: 'SCANNING_FAILED',
  scan_stopped: 'SCANNING_STOPPED',
  quota_exceeded: 'QUOTA_EXCEED',
  quota_warning: 'QUOTA_WARNING',
  replication: 'REPLICATION',
  tag_retention: 'TAG_RETENTION',
};

export const typeTemplateSchema = Joi.string()
  .allow('')
  .default('')
  .custom((template: string, helpers) => {
    if (template === VEBA_PRESET || template === '') return template;
    const unknown = [...template.matchAll(PLACEHOLDER)]
      .map((m) => m[1])
      .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
    if (unknown.length > 0) return helpers.error('typeTemplate.placeholder', { names: unknown.join(', ') });
    if (/\s/.test(template)) return helpers.error('typeTemplate.whitespace');
    return template;
  })
  .messages({
    'typeTemplate.placeholder':
      '{{#label}} may use the placeholders prefix, type and provider (each in braces), not [{{#names}}]; or be veba, the preset',
    'typeTemplate.whitespace': '{{#label}} must not contain whitespace',
  });

export const sourceSchema = Joi.string()
  .allow('')
  .default('')
  .pattern(/^\S*$/)
  .messages({ 'string.pattern.base': '{{#label}} must not contain whitespace' });

/**
 * `K_CE_OVERRIDES` arrives as JSON in the environment (config/env.ts parses it); invalid names
 * are refused when the gateway starts, since a broker would refuse every event carrying one.
 */
export const ceOverridesSchema = Joi.object<CeOverrides, true>({
  extensions: Joi.object()
    .pattern(Joi.string(), Joi.string().allow(''))
    .default({})
    .custom((extensions: Record<string, string>, helpers) => {
      const invalid = Object.keys(extensions).filter((name) => !isValidExtensionName(name));
      if (invalid.length > 0) return helpers.error('ceOverrides.name', { names: JSON.stringify(invalid) });
      return extensions;
    }),
})
  .default()
  .messages({
    'object.base':
      '{{#label}} must be an object with an extensions map of attribute name to string value ' +
      '(K_CE_OVERRIDES holds that object as JSON)',
    'object.unknown': '{{#label}} is not allowed: ceOverrides takes only extensions',
    'ceOverrides.name':
      '{{#label}}: {{#names}} are not CloudEvents attribute names: lower-case a-z and 0-9 only, ' +
      'and not a core attribute (id, source, type, subject, time...)',
  });

/** Override names past the recommended length: allowed, but worth a warning at start. */
export function longExtensionNames(overrides: CeOverrides): string[] {
  return Object.keys(overrides.extensions).filter((name) => name.length > RECOMMENDED_NAME_LENGTH);
}

/** The CloudEvent the emitter sends for an event: type, source and extensions as configured. */
export function cloudEventFor(event: RegistryEvent, naming: CloudEventNaming, trace?: TraceContext): CloudEvent {
  const cloudEvent = toCloudEvent(event, { typePrefix: naming.typePrefix, trace });
  cloudEvent.type = typeOf(event, naming, cloudEvent.type);
  if (naming.source) cloudEvent.source = naming.source;
  Object.assign(cloudEvent.extensions, naming.ceOverrides.extensions);
  return cloudEvent;
}

function typeOf(event: RegistryEvent, naming: CloudEventNaming, defaultType: string): string {
  if (naming.typeTemplate === VEBA_PRESET) {
    return event.provider === 'harbor' ? `com.vmware.harbor.${harborTypeName(event).toLowerCase()}.v0` : defaultType;
  }
  if (!naming.typeTemplate) return defaultType;
  const values: Record<(typeof PLACEHOLDERS)[number], string> = {
    prefix: naming.typePrefix || defaultTypePrefix(event.source),
    type: event.type,
    provider: event.provider,
  };
  return naming.typeTemplate.replace(PLACEHOLDER, (_, name: keyof typeof values) => values[name]);
}

/** The Harbor type as VEBA read it: the Default payload's `type`, as Harbor spelled it. */
function harborTypeName(event: RegistryEvent): string {
  const payload = event.payload as Record<string, unknown> | null;
  const isDefaultFormat = typeof payload === 'object' && payload !== null && !('specversion' in payload);
  if (isDefaultFormat && typeof payload.type === 'string') return payload.type;
  return HARBOR_DEFAULT_TYPES[event.type] ?? event.type;
}
