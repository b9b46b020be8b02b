import type Joi from 'joi';

/**
 * What the config needs to know of a provider and of an emitter to assemble its schema. Only
 * names, defaults and schemas: the wiring hands the real provider and emitter lists over, so
 * `config/` never imports the parsers or the target clients.
 */
export interface ProviderConfigPart {
  readonly name: string;
  readonly defaultSource: string;
  /** `providers.<name>`; absent for a provider without options. */
  readonly options?: Joi.ObjectSchema;
}

export interface EmitterConfigPart {
  readonly key: string;
  readonly enabledByDefault: boolean;
  /** The section's keys besides `enabled` and `filter`, with their defaults. */
  readonly settings: Joi.PartialSchemaMap;
}

export interface ConfigParts {
  providers: readonly ProviderConfigPart[];
  emitters: readonly EmitterConfigPart[];
}

/**
 * The id the routing filter's schema carries at the root of the values schema, so an emitter
 * whose section lists several endpoints gives each the very same filter (`Joi.link('#…')`)
 * without the config importing the emitter or the emitter knowing the provider list.
 */
export const EVENT_FILTER_SCHEMA_ID = 'eventFilter';
