import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenSpec, TokenVerification } from '../config/types';

/** Who a request is from, and what it may send (docs/configuration.md, Tokens and scopes). Never holds the secret. */
export interface TokenScope {
  name: string;
  providers?: readonly string[];
  registries?: readonly string[];
  repos?: readonly string[];
}

interface StoredToken {
  digest: Buffer;
  scope: TokenScope;
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The configured tokens a form verifies, each with its value, its spec and the scope it grants. */
export function tokensVerifiedBy(
  form: TokenVerification,
  tokens: Record<string, string | TokenSpec>,
): { value: string; spec: TokenSpec; scope: TokenScope }[] {
  return Object.entries(tokens).flatMap(([name, token]) => {
    if (typeof token === 'string')
      return form === 'bearer' ? [{ value: token, spec: { value: token }, scope: { name } }] : [];
    if ((token.verify ?? 'bearer') !== form) return [];
    const scope: TokenScope = { name, providers: token.providers, registries: token.registries, repos: token.repos };
    return [{ value: token.value, spec: token, scope }];
  });
}

/**
 * Looks a presented token up among the configured ones. Only SHA-256 digests are kept and
 * compared, each with timingSafeEqual and without stopping at a match, so neither the length
 * nor the position of a configured token leaks through response timing.
 */
export class TokenVerifier {
  private tokens: StoredToken[];

  /**
   * `form` is where the token is presented: `bearer` (the Authorization header) or `path` (the
   * last path segment). Only the tokens configured for it are kept, so a token meant for one
   * place is never accepted in another.
   */
  constructor(
    tokens: Record<string, string | TokenSpec>,
    private readonly form: Extract<TokenVerification, 'bearer' | 'path'> = 'bearer',
  ) {
    this.tokens = this.store(tokens);
  }

  /** A reload: one assignment, so a request sees either the old set or the new, never a mix. */
  replace(tokens: Record<string, string | TokenSpec>): void {
    this.tokens = this.store(tokens);
  }

  private store(tokens: Record<string, string | TokenSpec>): StoredToken[] {
    return tokensVerifiedBy(this.form, tokens).map(({ value, scope }) => ({ digest: digest(value), scope }));
  }

  verify(presented: string): TokenScope | undefined {
    const candidate = digest(presented);
    let found: TokenScope | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(candidate, token.digest)) found = token.scope;
    }
    return found;
  }
}
