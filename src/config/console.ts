import Joi from 'joi';
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
  sessionMinutes: Joi.number()
    .integer()
    .min(1)
    .max(7 * 24 * 60)
    .default(DEFAULT_SESSION_MINUTES),
}).default();

/** The console's tokens without the removed ones, and every problem with them (names only, never values). */
export function resolveConsoleTokens(
  settings: ConsoleSettings,
  webhookTokens: Record<string, string | TokenSpec>,
): { tokens: Record<string, string>; problems: string[] } {
  const webhookValues = new Set(Object.values(webhookTokens).map((t) => (typeof t === 'string' ? t : t.value)));
  const problems: string[] = [];
  const tokens: Record<string, string> = {};
  const seen = new Map<string, string>();
  for (const [name, value] of Object.entries(settings.tokens ?? {})) {
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
