import Joi from 'joi';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TOKEN_VERIFICATIONS, type TokenSpec } from './types';
import { GENERATE_HINT, MIN_PATH_TOKEN_LENGTH, tokenWeakness } from './token-strength';

const stringList = Joi.array().items(Joi.string().min(1));

/**
 * `tokens:` for the given provider names. A scoped token's value may be left out of the values
 * file when `tokensFile` supplies it: the scope is reviewable configuration, the value is a secret
 * that belongs in a Secret. `--set tokens.old=null` is how Helm users drop a token; Helm keeps the
 * null when the key was not in the chart's defaults, so null must mean "no such token", not a
 * config error.
 */
export function tokensSchema(provider: Joi.StringSchema): Joi.ObjectSchema {
  const oidc = (schema: Joi.Schema) =>
    schema.when('verify', { is: 'google-oidc', then: Joi.required(), otherwise: Joi.forbidden() });
  const scopedToken = Joi.object({
    // Google's signature proves a google-oidc request; a value there would be a secret nobody checks.
    value: Joi.string().min(1).when('verify', { is: 'google-oidc', then: Joi.forbidden() }),
    verify: Joi.string().valid(...TOKEN_VERIFICATIONS),
    audience: oidc(Joi.string().min(1)),
    serviceAccount: oidc(Joi.string().email()),
    jwksUrl: Joi.string()
      .uri({ scheme: ['https', 'http'] })
      .when('verify', { is: 'google-oidc', otherwise: Joi.forbidden() }),
    providers: Joi.array().items(provider).min(1),
    registries: stringList.min(1),
    repos: stringList.min(1),
  });
  return Joi.object()
    .pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, Joi.alternatives(Joi.string().min(1), scopedToken).allow(null))
    .default({});
}

type RawToken = string | Partial<TokenSpec> | null;
export type RawTokens = Record<string, RawToken>;

function isScoped(token: RawToken | undefined): token is Partial<TokenSpec> {
  return typeof token === 'object' && token !== null;
}

/** The tokens file: the same forms as `tokens:`, as a YAML (or JSON) mapping of name to token. */
export function readTokensFile(file: string, schema: Joi.Schema): { tokens: RawTokens; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      tokens: {},
      problems: [`tokensFile ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`],
    };
  }
  const doc = parseDocument(text);
  // Only the first line of a YAML error: the rest quotes the offending line, a token perhaps.
  if (doc.errors.length > 0) {
    return { tokens: {}, problems: doc.errors.map((e) => `tokensFile ${file}: YAML: ${e.message.split('\n')[0]}`) };
  }
  const raw: unknown = doc.toJS() ?? {};
  const result: Joi.ValidationResult<{ tokens: RawTokens }> = Joi.object({ tokens: schema }).validate(
    { tokens: raw },
    { abortEarly: false, errors: { wrap: { label: false } } },
  );
  if (result.error) {
    return {
      tokens: {},
      problems: result.error.details.map((d) =>
        d.path.length === 1
          ? `tokensFile ${file} must be a mapping of token names to tokens`
          : `tokensFile ${file}: ${d.message}`,
      ),
    };
  }
  return { tokens: result.value.tokens, problems: [] };
}

/**
 * Merges the values file's tokens with the tokens file's: a name in the file wins, except that a
 * plain value for a scoped token in the values fills in its value and keeps its scope, so moving
 * the secret out of values never widens what the token may send.
 */
export function mergeTokens(fromValues: RawTokens, fromFile: RawTokens): RawTokens {
  const merged: RawTokens = { ...fromValues };
  for (const [name, token] of Object.entries(fromFile)) {
    const current = merged[name];
    merged[name] = typeof token === 'string' && isScoped(current) ? { ...current, value: token } : token;
  }
  return merged;
}

/** The final token map, or every problem with it. Problems name tokens, never their values. */
export function resolveTokens(
  fromValues: RawTokens,
  tokensFile: string,
  configFile: string,
  /** The config schema's own `tokens` entry, so the file is held to exactly the same forms. */
  schema: Joi.Schema,
): { tokens: Record<string, string | TokenSpec>; problems: string[] } {
  const problems: string[] = [];
  let merged = fromValues;
  if (tokensFile) {
    const file = path.resolve(path.dirname(configFile), tokensFile);
    const read = readTokensFile(file, schema);
    if (read.problems.length > 0) return { tokens: {}, problems: read.problems };
    merged = mergeTokens(fromValues, read.tokens);
  }
  const tokens: Record<string, string | TokenSpec> = {};
  const seen = new Map<string, string>();
  for (const [name, token] of Object.entries(merged)) {
    // null removes a token; anything else that is not a token the schema has already reported.
    if (typeof token !== 'string' && !isScoped(token)) continue;
    if (isScoped(token) && token.verify === 'google-oidc') {
      tokens[name] = { ...token, value: '' };
      continue;
    }
    const value = typeof token === 'string' ? token : token.value;
    if (value === undefined) {
      problems.push(`tokens.${name} has no value: set tokens.${name}.value, or give ${name} a value in tokensFile`);
      continue;
    }
    const weakness = tokenWeakness(value);
    if (weakness) problems.push(`tokens.${name} ${weakness}: ${GENERATE_HINT}`);
    // A path ends up in places a header does not (proxy logs, browser history): a longer secret.
    if (isScoped(token) && token.verify === 'path' && value.length < MIN_PATH_TOKEN_LENGTH) {
      problems.push(
        `tokens.${name} is shorter than ${MIN_PATH_TOKEN_LENGTH} characters, which verify: path needs: ${GENERATE_HINT}`,
      );
    }
    const other = seen.get(value);
    if (other) problems.push(`tokens.${other} and tokens.${name} have the same value: each token must be distinct`);
    seen.set(value, name);
    tokens[name] = typeof token === 'string' ? token : { ...token, value };
  }
  if (Object.keys(tokens).length === 0 && problems.length === 0) {
    problems.push(`tokens must name at least one token (here or in tokensFile); ${GENERATE_HINT}`);
  }
  return { tokens, problems };
}
