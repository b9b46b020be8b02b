import type { Request, RequestHandler, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { REALM } from '../auth/authenticate';

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * The Bearer token of an HTTP request, read by passport-http-bearer (RFC 6750's header form);
 * undefined when the request has none. Verifying it is `authenticate`'s job, with every other
 * form, so the strategy's verify step only hands the token on. The strategy would also read
 * `access_token` from the query string or the body: the adapter refuses query tokens before it
 * runs, and it runs before the body is read, so there is none to look into.
 */
export function bearerTokenReader(): (req: Request, res: Response) => Promise<string | undefined> {
  const passport = new Passport();
  passport.use(
    new BearerStrategy(
      { realm: REALM, scope: [] },
      (token: string, done: (err: null, user: { token: string }) => void) => done(null, { token }),
    ),
  );
  return (req, res) =>
    new Promise((resolve, reject) => {
      const read = passport.authenticate(
        'bearer',
        { session: false },
        (err: unknown, user: { token: string } | false) =>
          err ? reject(asError(err)) : resolve(user ? user.token : undefined),
      ) as RequestHandler;
      void read(req, res, reject);
    });
}
