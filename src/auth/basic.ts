import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { REALM } from './bearer';
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

/** Whether the request presents Basic credentials at all, well-formed or not. */
export function usesBasicScheme(req: Request): boolean {
  return /^basic(\s|$)/i.test(req.headers.authorization ?? '');
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

/**
 * Takes requests with Basic credentials and hands every other one to `bearer`. A refusal names
 * the Bearer challenge as before, and a Basic one only for a request that itself used Basic:
 * a Basic challenge makes browsers prompt for a password, which no other caller should get.
 */
export function acceptBasicCredentials(verifier: TokenVerifier, bearer: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // Query-string tokens are refused by the bearer middleware, whatever the header says.
    const queryToken = new URLSearchParams(req.url.split('?')[1] ?? '').has('access_token');
    if (!usesBasicScheme(req) || queryToken) return bearer(req, res, next);
    const credentials = basicCredentials(req.headers.authorization);
    const scope = credentials && verifyBasic(verifier, credentials);
    if (scope) {
      req.tokenScope = scope;
      return next();
    }
    res.setHeader('WWW-Authenticate', [`Bearer realm="${REALM}"`, `Basic realm="${REALM}", charset="UTF-8"`]);
    // One answer for a wrong token and a wrong name: telling them apart would confirm a token.
    const hint = credentials
      ? 'the Basic credentials are not a token this gateway knows with its name as the user name'
      : 'Basic credentials must be base64 of "<token name>:<token>"';
    res.status(401).json({ status: 'unauthorized', errors: [hint] });
  };
}
