import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenScope, TokenVerifier } from './tokens';

/**
 * A token sent as HTTP Basic credentials (RFC 7617), for senders that can do nothing else:
 * Harbor policies written for VEBA's webhook function, EventBridge connections. The password
 * is the token and the user name must be the token's name, so a leaked Basic header names the
 * token to revoke. The token goes through the verifier's constant-time check like a Bearer one
 * and carries the same scope.
 */

const BASIC = /^basic\s+(\S+)\s*$/i;

export interface BasicCredentials {
  user: string;
  password: string;
}

/** Whether an Authorization header uses the Basic scheme at all, well-formed or not. */
export function usesBasicScheme(header: string | undefined): boolean {
  return /^basic(\s|$)/i.test(header ?? '');
}

/** The user name and password of an `Authorization: Basic` header; undefined when malformed. */
export function basicCredentials(header: string | undefined): BasicCredentials | undefined {
  const encoded = BASIC.exec(header ?? '')?.[1];
  if (!encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  // The user name cannot contain a colon (RFC 7617 §2); the password may.
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sameName(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The scope of the token in the credentials, when the user name is that token's name. */
export function verifyBasic(verifier: TokenVerifier, credentials: BasicCredentials): TokenScope | undefined {
  const scope = verifier.verify(credentials.password);
  return scope && sameName(credentials.user, scope.name) ? scope : undefined;
}
