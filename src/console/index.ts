import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import { actionRoutes } from './actions';
import { LoginThrottle } from './login-throttle';
import { pageRoutes } from './pages';
import { currentSession, csrfToken, endSession, issueLoginNonce, issueSession, loginNonceMatches } from './session';
import { operatorFor, sameSecret } from './session';
import type { ConsoleDeps, PageContext } from './types';
import { ASSETS_DIR, render } from './view';

export type { ConsoleDeps } from './types';

/**
 * Stricter than helmet's defaults, which the rest of the gateway keeps: nothing but this origin's
 * own stylesheet and script, no inline script or style, no framing, forms back to this origin.
 */
const consoleCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
});

function first(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** 429 with Retry-After in whole seconds, and the wait in words. */
function tooMany(res: Response, waitMs: number, why: string): void {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  res.setHeader('Retry-After', String(seconds));
  render(res, 'message', { title: 'Too many login attempts', message: `${why} Try again in ${seconds} s.` }, 429);
}

/** The operator console, mounted by the HTTP edge at /console. */
export function createConsole(deps: ConsoleDeps): Router {
  const clock = deps.clock ?? Date.now;
  const settings = () => deps.config.console;
  const router = express.Router();
  const throttle = new LoginThrottle();

  // Off: the routes do not exist (the edge answers 404), and a reload can turn them on.
  router.use((_req, _res, next) => (settings().enabled ? next() : next('router')));
  router.use(consoleCsp, (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use('/assets', express.static(ASSETS_DIR, { index: false, fallthrough: false }));
  router.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));

  router.get('/login', (req, res) => {
    render(res, 'login', { title: 'Log in', nonce: issueLoginNonce(req, res), failed: req.query.failed === '1' });
  });
  router.post('/login', (req, res) => {
    const body = req.body as Record<string, unknown>;
    const remote = req.ip ?? 'unknown';
    const now = clock();
    const wait = throttle.byAddress.blockedFor(remote, now);
    if (wait > 0) {
      deps.logger.warn({ remote }, 'console: login throttled: too many refused attempts from this address');
      tooMany(res, wait, 'Too many refused login attempts from this address.');
      return;
    }
    if (!loginNonceMatches(req, body._csrf)) {
      throttle.byAddress.hit(remote, now);
      render(res, 'message', { title: 'Refused', message: 'The login form was stale or came from elsewhere.' }, 403);
      return;
    }
    const operator = operatorFor(settings().tokens, first(body.token) ?? '');
    if (!operator) {
      throttle.byAddress.hit(remote, now);
      deps.logger.warn({ remote }, 'console: login refused');
      res.redirect(303, '/console/login?failed=1');
      return;
    }
    const operatorWait = throttle.byOperator.blockedFor(operator, now);
    if (operatorWait > 0) {
      deps.logger.warn({ remote, operator }, 'console: login throttled: too many logins with this operator token');
      tooMany(res, operatorWait, `Too many logins as ${operator}.`);
      return;
    }
    throttle.byOperator.hit(operator, now);
    issueSession(req, res, settings().tokens, operator, settings().sessionMinutes, clock());
    deps.logger.info({ operator }, 'console: operator logged in');
    res.redirect(303, '/console/events');
  });

  // Everything below needs a session: pages send the browser to the login form, posts are refused.
  router.use((req: Request, res: Response, next: NextFunction) => {
    const session = currentSession(req, settings().tokens, clock());
    if (!session) {
      if (req.method === 'GET' || req.method === 'HEAD') res.redirect(303, '/console/login');
      else render(res, 'message', { title: 'Logged out', message: 'Log in again to do that.' }, 401);
      return;
    }
    const context: PageContext = { operator: session.operator, csrf: csrfToken(session, settings().tokens), session };
    res.locals.console = context;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const presented = first((req.body as Record<string, unknown> | undefined)?._csrf);
      if (!presented || !sameSecret(presented, context.csrf)) {
        deps.logger.warn(
          { operator: session.operator, path: req.path },
          'console: request without a valid CSRF token refused',
        );
        render(
          res,
          'message',
          { title: 'Refused', message: 'The form was stale or came from elsewhere (CSRF token missing or wrong).' },
          403,
        );
        return;
      }
    }
    next();
  });

  router.post('/logout', (req, res) => {
    endSession(req, res);
    deps.logger.info({ operator: (res.locals.console as PageContext).operator }, 'console: operator logged out');
    res.redirect(303, '/console/login');
  });
  router.use(pageRoutes(deps, clock));
  router.use(actionRoutes(deps, clock));
  router.use((req, res) => {
    render(
      res,
      'message',
      { ...(res.locals.console as PageContext), title: 'Not found', message: `Nothing at ${req.originalUrl}.` },
      404,
    );
  });
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const context = res.locals.console as PageContext | undefined;
    if ((err as { status?: number }).status === 404) {
      render(res, 'message', { ...context, title: 'Not found', message: `Nothing at ${req.originalUrl}.` }, 404);
      return;
    }
    deps.logger.error({ err, path: req.path }, 'console: page failed');
    const message = 'The page could not be shown; the gateway log says why.';
    render(res, 'message', { ...context, title: 'Something went wrong', message }, 500);
  });
  return router;
}
