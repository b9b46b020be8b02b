import { readFileSync } from 'node:fs';
import type Joi from 'joi';
import { parseDocument } from 'yaml';
import { resolveConsoleTokens } from './console';
import { applyEnvOverrides } from './env';
import { resolveTokens, type RawTokens } from './tokens-file';
import type { GatewayConfig } from './types';

/** The values file cannot be used: every problem, each naming its key path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a values file's text against a schema (the wiring's, built from the provider and
 * emitter lists), environment overrides applied first. `C` is what the schema guarantees.
 */
export function parseConfigText<C extends GatewayConfig>(
  schema: Joi.ObjectSchema<GatewayConfig>,
  text: string,
  file = 'config',
  env: NodeJS.ProcessEnv = {},
): C {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['the file must be a YAML mapping of keys to values']);
  }
  const result = schema.validate(applyEnvOverrides(raw as Record<string, unknown>, env), {
    abortEarly: false,
    convert: true,
    errors: { wrap: { label: false } },
  });
  const value = result.value as Partial<GatewayConfig> | undefined;
  // Token problems are listed with the schema's, so one run names everything to fix.
  const rawTokens = value?.tokens !== null && typeof value?.tokens === 'object' ? (value.tokens as RawTokens) : {};
  const tokensFile = typeof value?.tokensFile === 'string' ? value.tokensFile : '';
  const tokens = resolveTokens(rawTokens, tokensFile, file, schema.extract('tokens'));
  const operators = value?.console
    ? resolveConsoleTokens(value.console, tokens.tokens, file)
    : { tokens: {}, problems: [] };
  const problems = [...tokens.problems, ...operators.problems];
  if (result.error || problems.length > 0) {
    throw new ConfigError(file, [...(result.error?.details.map((d) => d.message) ?? []), ...problems]);
  }
  const resolved = { ...result.value, tokens: tokens.tokens } as C;
  resolved.console = { ...resolved.console, tokens: operators.tokens };
  return normalise(resolved);
}

export function readConfigFile<C extends GatewayConfig>(
  schema: Joi.ObjectSchema<GatewayConfig>,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): C {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfigText<C>(schema, text, file, env);
}

/** Registry names compare lower-case everywhere (hosts are case-insensitive), so the config does too. */
function normalise<C extends GatewayConfig>(config: C): C {
  config.registryAliases = Object.fromEntries(
    Object.entries(config.registryAliases).map(([k, v]) => [k.toLowerCase(), v.toLowerCase()]),
  );
  for (const [k, v] of Object.entries(config.defaultRegistry)) {
    if (v) config.defaultRegistry[k] = v.toLowerCase();
    else delete config.defaultRegistry[k];
  }
  return config;
}
