import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'rg_console';
export const LOGIN_COOKIE = 'rg_console_login';
const COOKIE_PATH = '/console';
/** Long enough to read the form and paste a token; the nonce guards only the login POST. */
const LOGIN_NONCE_SECONDS = 600;

/** A logged-in operator: who (the token's name), until when, and the session's own id. */
export interface Session {
  operator: string;
  expiresAt: number;
  id: string;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * The key a session of `token` is signed with. Derived from the operator's own token, so a
 * session is valid on every replica and across restarts (a port-forward may land on any pod),
 * needs no store, and ends the moment that token is removed or rotated in `console.tokens`.
 */
function sessionKey(token: string): Buffer {
  return createHmac('sha256', token).update('registry-gateway console session v1').digest();
}

function sign(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The operator whose token this is, comparing every token in constant time. */
export function operatorFor(tokens: Record<string, string>, presented: string): string | undefined {
  let found: string | undefined;
  for (const [name, token] of Object.entries(tokens)) if (sameSecret(token, presented)) found = name;
  return found;
}

export function readCookies(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return cookies;
}

function setCookie(req: Request, res: Response, name: string, value: string, maxAgeSeconds: number): void {
  // Secure whenever the gateway serves TLS; a port-forward to plain HTTP on localhost cannot carry it.
  const secure = req.secure ? '; Secure' : '';
  res.append(
    'Set-Cookie',
    `${name}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`,
  );
}

export function issueSession(
  req: Request,
  res: Response,
  tokens: Record<string, string>,
  operator: string,
  minutes: number,
  now: number,
): void {
  const payload = base64url(
    JSON.stringify({ o: operator, e: now + minutes * 60_000, i: randomBytes(12).toString('hex') }),
  );
  setCookie(req, res, SESSION_COOKIE, `${payload}.${sign(sessionKey(tokens[operator]), payload)}`, minutes * 60);
}

export function endSession(req: Request, res: Response): void {
  setCookie(req, res, SESSION_COOKIE, '', 0);
}

/** The request's session, if its cookie is signed by a token still configured and not expired. */
export function currentSession(req: Request, tokens: Record<string, string>, now: number): Session | undefined {
  const cookie = readCookies(req).get(SESSION_COOKIE);
  const [payload, signature] = cookie?.split('.') ?? [];
  if (!payload || !signature) return undefined;
  let claims: { o?: unknown; e?: unknown; i?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return undefined;
  }
  if (typeof claims.o !== 'string' || typeof claims.e !== 'number' || typeof claims.i !== 'string') return undefined;
  const token = Object.hasOwn(tokens, claims.o) ? tokens[claims.o] : undefined;
  if (token === undefined || !sameSecret(sign(sessionKey(token), payload), signature)) return undefined;
  if (claims.e <= now) return undefined;
  return { operator: claims.o, expiresAt: claims.e, id: claims.i };
}

/** The CSRF token of a session: bound to it, so one stolen from another session is worthless. */
export function csrfToken(session: Session, tokens: Record<string, string>): string {
  return sign(sessionKey(tokens[session.operator]), `csrf:${session.id}`);
}

/**
 * Before login there is no session to bind a CSRF token to: the form carries a nonce that must
 * equal the one in a SameSite=Strict cookie, which another site can neither read nor set.
 */
export function issueLoginNonce(req: Request, res: Response): string {
  const nonce = randomBytes(16).toString('hex');
  setCookie(req, res, LOGIN_COOKIE, nonce, LOGIN_NONCE_SECONDS);
  return nonce;
}

export function loginNonceMatches(req: Request, submitted: unknown): boolean {
  const nonce = readCookies(req).get(LOGIN_COOKIE);
  return typeof submitted === 'string' && nonce !== undefined && nonce !== '' && sameSecret(nonce, submitted);
}
