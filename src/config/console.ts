import Joi from 'joi';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { GENERATE_HINT, tokenWeakness } from './token-strength';
import type { ConsoleSettings, TokenSpec } from './types';

/** Eight hours: a working day, after which the operator logs in again. */
export const DEFAULT_SESSION_MINUTES = 480;

/**
 * `console`: the operator console. Its tokens are people's, not senders': a webhook token never
 * opens the console, and the same value may not serve as both. `null` removes a token, as Helm's
 * `--set console.tokens.old=null` does for webhook tokens.
 */
export const consoleSchema = Joi.object<ConsoleSettings, true>({
  enabled: Joi.boolean().default(false),
  tokens: Joi.object()
    .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, Joi.string().min(1).allow(null))
    .default({}),
  // A YAML mapping of operator name to token (a mounted Secret), merged over `tokens`.
  tokensFile: Joi.string().allow('').default(''),
  sessionMinutes: Joi.number()
    .integer()
    .min(1)
    .max(7 * 24 * 60)
    .default(DEFAULT_SESSION_MINUTES),
}).default();

/**
 * The console's tokens without the removed ones, and every problem with them (names only, never
 * values). `tokensFile` (resolved against the values file's folder) adds to and overrides `tokens`.
 */
export function resolveConsoleTokens(
  settings: ConsoleSettings,
  webhookTokens: Record<string, string | TokenSpec>,
  configFile = 'config',
): { tokens: Record<string, string>; problems: string[] } {
  const webhookValues = new Set(Object.values(webhookTokens).map((t) => (typeof t === 'string' ? t : t.value)));
  const problems: string[] = [];
  const tokens: Record<string, string> = {};
  const seen = new Map<string, string>();
  let configured: Record<string, string | null> = settings.tokens ?? {};
  if (settings.tokensFile) {
    const read = readOperatorTokens(path.resolve(path.dirname(configFile), settings.tokensFile));
    if (read.problems.length > 0) return { tokens: {}, problems: read.problems };
    configured = { ...configured, ...read.tokens };
  }
  for (const [name, value] of Object.entries(configured)) {
    if (typeof value !== 'string') continue;
    const weakness = tokenWeakness(value);
    if (weakness) problems.push(`console.tokens.${name} ${weakness}: ${GENERATE_HINT}`);
    if (webhookValues.has(value)) {
      problems.push(`console.tokens.${name} has the value of a webhook token: operators need a token of their own`);
    }
    const other = seen.get(value);
    if (other)
      problems.push(`console.tokens.${other} and console.tokens.${name} have the same value: each must be distinct`);
    seen.set(value, name);
    tokens[name] = value;
  }
  if (settings.enabled && Object.keys(tokens).length === 0 && problems.length === 0) {
    problems.push(`console.enabled needs at least one operator token in console.tokens; ${GENERATE_HINT}`);
  }
  return { tokens, problems };
}

const operatorTokens = Joi.object()
  .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, Joi.string().min(1).allow(null))
  .required();

/** `console.tokensFile`: operator name to token, the same form as `console.tokens`. */
function readOperatorTokens(file: string): { tokens: Record<string, string | null>; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      tokens: {},
      problems: [`console.tokensFile ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`],
    };
  }
  const doc = parseDocument(text);
  // Only the first line of a YAML error: the rest quotes the offending line, a token perhaps.
  if (doc.errors.length > 0) {
    return {
      tokens: {},
      problems: doc.errors.map((e) => `console.tokensFile ${file}: YAML: ${e.message.split('\n')[0]}`),
    };
  }
  const result = operatorTokens.validate(doc.toJS() ?? {});
  if (result.error) {
    return { tokens: {}, problems: [`console.tokensFile ${file} must be a mapping of operator names to tokens`] };
  }
  return { tokens: result.value as Record<string, string | null>, problems: [] };
}
