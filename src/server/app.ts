import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Credentials } from '../auth/credentials';
import type { GatewayConfig } from '../config/types';
import type { EventIntake } from '../delivery/types';
import type { Metrics } from '../observability/metrics';
import { acceptedMediaTypes } from '../providers';
import type { RegistryProvider } from '../providers/types';
import { abuseProtectionHandshake } from './abuse-protection';
import { authentication } from './authenticate';
import { rawBody, requireAcceptedMediaType } from './body';
import { errorHandler } from './errors';
import { eventsHandler } from './events';
import { rateLimit } from './rate-limit';
import { loggablePath, requestContext } from './request-context';

export interface Readiness {
  /** undefined when ready, else why not (draining, store closed). */
  notReadyReason(): string | undefined;
}

export interface AppDeps {
  config: GatewayConfig;
  /** Every token, by how requests present it (`verify:`). */
  credentials: Credentials;
  /** The registries the gateway takes webhooks from: paths, detection and media types follow. */
  providers: readonly RegistryProvider[];
  intake: EventIntake;
  metrics: Metrics;
  logger: Logger;
  readiness: Readiness;
  /** The operator console, built by the wiring; served under /console with its own headers. */
  console?: RequestHandler;
}

/**
 * What one listener serves: `webhooks` is /events, `admin` the console and /metrics. With
 * `server.adminPort` the two are separate listeners, so a Service or Ingress exposing the webhook
 * port exposes nothing an operator uses; without it one listener serves both. Every listener
 * answers the probes.
 */
export interface Serves {
  webhooks: boolean;
  admin: boolean;
}

const EVERYTHING: Serves = { webhooks: true, admin: true };

export function createApp(deps: AppDeps, serves: Serves = EVERYTHING): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(helmet());
  app.use(requestContext(deps.logger));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const reason = deps.readiness.notReadyReason();
    if (reason) res.status(503).json({ status: 'not ready', reason });
    else res.json({ status: 'ready' });
  });
  if (serves.admin) {
    app.get('/metrics', async (_req, res) => {
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.send(await deps.metrics.exposition());
    });
    if (deps.console) app.use('/console', deps.console);
  }
  if (serves.webhooks) webhookRoutes(app, deps);
  app.use((req, res) => {
    res.status(404).json({ status: 'not_found', errors: [`no route ${req.method} ${loggablePath(req.path)}`] });
  });
  app.use(errorHandler(deps.metrics));
  return app;
}

/** `/events` and its provider paths: authentication, rate limit, media type, body, the handler. */
function webhookRoutes(app: Express, deps: AppDeps): void {
  const limit = rateLimit(deps.config.server.rateLimit.requestsPerSecond, deps.config.server.rateLimit.burst);
  const auth = authentication(deps.credentials);
  // Each request meets the rate limit once, right after it is authenticated: callers without a
  // credential cannot use up the budget of those with one.
  const limitOnce: RequestHandler = (req, res, next) => {
    if (!req.tokenScope || req.rateChecked) return next();
    req.rateChecked = true;
    limit(req, res, next);
  };
  const known = new Set(deps.providers.map((p) => p.name));
  const knownProvider = (req: Request, res: Response, next: () => void) => {
    const named = req.params.provider as string | undefined;
    if (named && !known.has(named)) {
      res.status(404).json({
        status: 'not_found',
        errors: [`no provider "${named}"; use /events or /events/{${[...known].join(',')}}`],
      });
      return;
    }
    next();
  };
  const handle = eventsHandler(deps);

  app.post(
    ['/events', '/events/:provider', '/events/:provider/:secret'],
    knownProvider,
    auth.beforeBody({ signatures: true }),
    limitOnce,
    requireAcceptedMediaType(acceptedMediaTypes(deps.providers)),
    rawBody(deps.config.server.bodyLimit),
    // Signed requests (GitHub, JFrog) are authenticated here, from the body as received.
    auth.afterBody,
    limitOnce,
    handle,
  );
  app.options(
    ['/events', '/events/eventgrid'],
    auth.beforeBody({ signatures: false }),
    limit,
    abuseProtectionHandshake,
  );
  app.all(['/events', '/events/:provider', '/events/:provider/:secret'], (req, res) => {
    res.setHeader('Allow', 'POST, OPTIONS');
    res.status(405).json({ status: 'rejected', errors: [`${req.method} is not allowed here; webhooks are POSTed`] });
  });
}
