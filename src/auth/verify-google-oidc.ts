import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { TokenSpec } from '../config/types';
import { tokensVerifiedBy, type TokenScope } from './tokens';

/** Where Google publishes the keys it signs OIDC tokens with. */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** Google writes either form of its issuer into the tokens it signs. */
const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/** Clock difference tolerated on `exp` and `iat` between Google and this host. */
const CLOCK_SKEW_SECONDS = 30;

/** Google's push tokens live an hour; one claiming a longer life was not made for this. */
const MAX_TOKEN_AGE_SECONDS = 3600;

interface OidcToken {
  audience: string;
  serviceAccount: string;
  jwksUrl: string;
  scope: TokenScope;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * `google-oidc` tokens: a Pub/Sub push subscription with authentication sends
 * `Authorization: Bearer <JWT>` signed by Google for its service account. The JWT is accepted
 * when it is RS256, signed by a key from the JWKS (fetched once and cached; a token naming an
 * unknown `kid` makes one refetch, at most every 30 s), issued by Google, not expired nor
 * issued in the future, and its `aud`, `email` and `email_verified` are those the token names.
 */
export class GoogleOidcVerifier {
  private tokens: OidcToken[] = [];
  /** Per JWKS URL; kept across reloads so a reload does not refetch Google's keys. */
  private readonly keySets = new Map<string, KeySet>();

  constructor(tokens: Record<string, string | TokenSpec>) {
    this.replace(tokens);
  }

  replace(tokens: Record<string, string | TokenSpec>): void {
    this.tokens = tokensVerifiedBy('google-oidc', tokens).map(({ spec, scope }) => ({
      audience: spec.audience ?? '',
      serviceAccount: spec.serviceAccount ?? '',
      jwksUrl: spec.jwksUrl ?? GOOGLE_JWKS_URL,
      scope,
    }));
  }

  get configured(): boolean {
    return this.tokens.length > 0;
  }

  /** The scope of the token the JWT satisfies, or why none does (names claims, never values). */
  async verify(jwt: string): Promise<{ scope: TokenScope } | { refused: string }> {
    const reasons = new Set<string>();
    for (const url of new Set(this.tokens.map((token) => token.jwksUrl))) {
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(jwt, this.keySet(url), {
          algorithms: ['RS256'],
          issuer: GOOGLE_ISSUERS,
          clockTolerance: CLOCK_SKEW_SECONDS,
          maxTokenAge: MAX_TOKEN_AGE_SECONDS,
          requiredClaims: ['exp', 'iat', 'aud', 'email'],
        }));
      } catch (error) {
        reasons.add((error as Error).message);
        continue;
      }
      for (const token of this.tokens.filter((t) => t.jwksUrl === url)) {
        const refused = claimProblem(claims, token);
        if (refused === undefined) return { scope: token.scope };
        reasons.add(refused);
      }
    }
    return { refused: [...reasons].join('; ') || 'no google-oidc token is configured' };
  }

  private keySet(url: string): KeySet {
    let keySet = this.keySets.get(url);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.keySets.set(url, keySet);
    }
    return keySet;
  }
}

function claimProblem(claims: JWTPayload, token: OidcToken): string | undefined {
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(token.audience)) return '"aud" is not the audience a google-oidc token names';
  if (claims.email !== token.serviceAccount) return '"email" is not the service account a google-oidc token names';
  if (claims.email_verified !== true) return '"email_verified" is not true';
  return undefined;
}
