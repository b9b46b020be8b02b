import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenSpec } from '../config/types';

/** Who a request is from, and what it may send (README, Tokens and scopes). Never holds the secret. */
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

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Looks a presented token up among the configured ones. Only SHA-256 digests are kept and
 * compared, each with timingSafeEqual and without stopping at a match, so neither the length
 * nor the position of a configured token leaks through response timing.
 */
export class TokenVerifier {
  private tokens: StoredToken[];

  constructor(tokens: Record<string, string | TokenSpec>) {
    this.tokens = TokenVerifier.store(tokens);
  }

  /** A reload: one assignment, so a request sees either the old set or the new, never a mix. */
  replace(tokens: Record<string, string | TokenSpec>): void {
    this.tokens = TokenVerifier.store(tokens);
  }

  private static store(tokens: Record<string, string | TokenSpec>): StoredToken[] {
    return Object.entries(tokens).map(([name, spec]) => {
      const value = typeof spec === 'string' ? spec : spec.value;
      const scope: TokenScope =
        typeof spec === 'string'
          ? { name }
          : { name, providers: spec.providers, registries: spec.registries, repos: spec.repos };
      return { digest: digest(value), scope };
    });
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
