import { parseConfigText, readConfigFile } from '../config/load';
import { createConfigSchema } from '../config/schema';
import type { GatewayConfig } from '../config/types';
import { EMITTER_PLUGINS, type EmitterSections } from '../emitters';
import { PROVIDERS, type ProviderOptions } from '../providers';

/** The values file as this gateway reads it: each emitter section and provider option typed by its plugin. */
export type Config = GatewayConfig<EmitterSections, ProviderOptions>;

/** The values-file schema: its provider and emitter sections come from the two lists. */
export const configSchema = createConfigSchema({ providers: PROVIDERS, emitters: EMITTER_PLUGINS });

/** A values file's text, validated against `configSchema` (env overrides applied first). */
export function parseConfig(text: string, file = 'config', env: NodeJS.ProcessEnv = {}): Config {
  return parseConfigText<Config>(configSchema, text, file, env);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return readConfigFile<Config>(configSchema, file, env);
}
