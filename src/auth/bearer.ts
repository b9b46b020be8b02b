import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import type { TokenScope, TokenVerifier } from './tokens';

export const REALM = 'registry-gateway';

declare module 'express-serve-static-core' {
  interface Request {
    tokenScope?: TokenScope;
  }
}

function hintFor(req: Request): { hint: string; invalidToken: boolean } {
  const header = req.headers.authorization;
  if (!header) {
    return { hint: 'send the token as "Authorization: Bearer <token>"', invalidToken: false };
  }
  const [scheme, ...rest] = header.split(' ');
  if (!/^bearer$/i.test(scheme)) {
    return { hint: 'the Authorization header must use the Bearer scheme', invalidToken: false };
  }
  if (rest.length !== 1 || rest[0] === '') {
    return { hint: 'the Authorization header must be "Bearer <token>" with one space', invalidToken: false };
  }
  return { hint: 'the token is not one this gateway knows', invalidToken: true };
}

/**
 * Bearer authentication through passport-http-bearer, answering every failure with 401, the
 * challenge and a one-line hint. Tokens are taken from the Authorization header only: the
 * strategy would also read `access_token` from the query string or body, where proxies and
 * access logs keep them, so such requests are refused before it runs (this middleware runs
 * before the body is read, so there is no body for it to look into).
 */
export function bearerAuth(verifier: TokenVerifier): RequestHandler {
  const passport = new Passport();
  passport.use(
    new BearerStrategy(
      { realm: REALM, scope: [] },
      (token: string, done: (err: null, scope: TokenScope | false) => void) => {
        done(null, verifier.verify(token) ?? false);
      },
    ),
  );

  const refuse = (req: Request, res: Response, hint: string, invalidToken: boolean) => {
    res.setHeader(
      'WWW-Authenticate',
      invalidToken ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`,
    );
    res.status(401).json({ status: 'unauthorized', errors: [hint] });
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if (new URLSearchParams(req.url.split('?')[1] ?? '').has('access_token')) {
      refuse(req, res, 'tokens are not accepted in the query string; use the Authorization header', false);
      return;
    }
    const authenticate = passport.authenticate(
      'bearer',
      { session: false },
      (err: unknown, scope: TokenScope | false) => {
        if (err) return next(err);
        if (!scope) {
          const { hint, invalidToken } = hintFor(req);
          return refuse(req, res, hint, invalidToken);
        }
        req.tokenScope = scope;
        next();
      },
    ) as RequestHandler;
    authenticate(req, res, next);
  };
}
