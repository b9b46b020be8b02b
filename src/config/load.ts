import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { applyEnvOverrides } from './env';
import { configSchema } from './schema';
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

export function parseConfig(
  text: string,
  file = 'config',
  env: NodeJS.ProcessEnv = {},
): GatewayConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const raw = doc.toJS() ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['the file must be a YAML mapping of keys to values']);
  }
  const { value, error } = configSchema.validate(applyEnvOverrides(raw, env), {
    abortEarly: false,
    convert: true,
    errors: { wrap: { label: false } },
  });
  // Token problems are listed with the schema's, so one run names everything to fix.
  const rawTokens = value?.tokens !== null && typeof value?.tokens === 'object' ? (value.tokens as RawTokens) : {};
  const tokens = resolveTokens(rawTokens, typeof value?.tokensFile === 'string' ? value.tokensFile : '', file);
  if (error || tokens.problems.length > 0) {
    throw new ConfigError(file, [...(error?.details.map((d) => d.message) ?? []), ...tokens.problems]);
  }
  return normalise({ ...value, tokens: tokens.tokens } as GatewayConfig);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? err}`]);
  }
  return parseConfig(text, file, env);
}

/** Registry names compare lower-case everywhere (CONTRACT §2.2), so the config does too. */
function normalise(config: GatewayConfig): GatewayConfig {
  config.registryAliases = Object.fromEntries(
    Object.entries(config.registryAliases).map(([k, v]) => [k.toLowerCase(), v.toLowerCase()]),
  );
  for (const [k, v] of Object.entries(config.defaultRegistry)) {
    if (v) config.defaultRegistry[k as keyof typeof config.defaultRegistry] = v.toLowerCase();
    else delete config.defaultRegistry[k as keyof typeof config.defaultRegistry];
  }
  return config;
}
