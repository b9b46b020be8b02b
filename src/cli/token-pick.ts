import Joi from 'joi';
import { readTokensFile, tokensSchema } from '../config/tokens-file';

/**
 * The token `send --tokens-file` posts with: the one named, or else the first (by name) that a
 * Bearer request to `provider` may use. This is how the chart's `helm test` pod uses a token
 * that lives only in the operator's tokens Secret: the chart knows the Secret, not its values.
 * Errors name tokens, never their values.
 */
export function pickToken(file: string, provider: string | undefined, name?: string): string {
  // Any provider name: the file is read to find a token, the gateway itself checks the scope.
  const read = readTokensFile(file, tokensSchema(Joi.string()));
  if (read.problems.length > 0) throw new Error(read.problems.join('; '));
  const valueOf = (token: unknown): string | undefined =>
    typeof token === 'string' ? token : ((token as { value?: string } | null)?.value ?? undefined);
  if (name !== undefined) {
    const value = valueOf(read.tokens[name]);
    if (!value) throw new Error(`${file} has no value for token ${name}`);
    return value;
  }
  for (const key of Object.keys(read.tokens).sort()) {
    const token = read.tokens[key];
    if (typeof token === 'string') return token;
    if (token === null || !token.value || (token.verify && token.verify !== 'bearer')) continue;
    if (!token.providers || (provider !== undefined && token.providers.includes(provider))) return token.value;
  }
  throw new Error(`${file} holds no Bearer token allowed for ${provider ?? 'every provider'}`);
}

/** The provider a gateway URL names (`…/events/<provider>`), if it names one. */
export function providerOfUrl(url: string): string | undefined {
  try {
    return /\/events\/([a-z0-9]+)\/?$/.exec(new URL(url).pathname)?.[1];
  } catch {
    return undefined;
  }
}
