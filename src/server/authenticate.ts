import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { acceptBasicCredentials } from '../auth/basic';
import { bearerAuth } from '../auth/bearer';
import type { Credentials } from '../auth/credentials';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request names a signature to check once its body has been read. */
    awaitsSignature?: boolean;
  }
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

function refuse(res: Response, hint: string): void {
  res.status(401).json({ status: 'unauthorized', errors: [hint] });
}

/**
 * Authentication at the edge, in two steps around reading the body: the forms a request proves
 * with its headers or path (bearer, path token, Google OIDC) before the body is read, so that a
 * caller without a credential never gets the gateway to read one; signatures of the body
 * (GitHub, JFrog) after, from the raw bytes.
 */
export function authentication(credentials: Credentials) {
  // Basic credentials are another spelling of a bearer token, for senders that cannot set Bearer.
  const bearer = acceptBasicCredentials(credentials.bearer, bearerAuth(credentials.bearer));

  const beforeBody = (options: { signatures: boolean }): RequestHandler =>
    async function authenticate(req: Request, res: Response, next: NextFunction) {
      const secret = req.params.secret as string | undefined;
      if (secret !== undefined) {
        const scope = credentials.path.verify(secret);
        if (!scope) return refuse(res, 'the path does not end in a token this gateway knows');
        req.tokenScope = scope;
        return next();
      }
      if (options.signatures && !req.headers.authorization && credentials.signatures.expects(req.headers)) {
        req.awaitsSignature = true;
        return next();
      }
      const presented = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (
        presented &&
        credentials.googleOidc.configured &&
        JWT.test(presented) &&
        !credentials.bearer.verify(presented)
      ) {
        const result = await credentials.googleOidc.verify(presented);
        if ('refused' in result) {
          req.log.info({ reason: result.refused }, 'Google OIDC token refused');
          return refuse(res, `the Google OIDC token was refused: ${result.refused}`);
        }
        req.tokenScope = result.scope;
        return next();
      }
      bearer(req, res, next);
    };

  const afterBody: RequestHandler = (req, res, next) => {
    if (!req.awaitsSignature) return next();
    const body: unknown = req.body;
    const scope = credentials.signatures.verify(req.headers, Buffer.isBuffer(body) ? body : Buffer.alloc(0));
    if (!scope) return refuse(res, 'the body signature matches no token this gateway knows');
    req.tokenScope = scope;
    req.awaitsSignature = false;
    next();
  };

  return { beforeBody, afterBody };
}
