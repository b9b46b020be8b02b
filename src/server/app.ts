import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Credentials } from '../auth/credentials';
import type { GatewayConfig } from '../config/types';
import type { EventIntake } from '../delivery/types';
import type { Metrics } from '../observability/metrics';
import type { RegistryProvider } from '../providers/types';
import { bodyErrorReply } from './body-reader';
import { internalError } from './error-reply';
import { RateLimit } from './rate-limit';
import { Receiver } from './receive';
import { refused } from './reply';
import { requestContext } from './request-context';
import { loggablePath, RequestLog } from './request-log';
import { webhookRoutes } from './webhook-routes';
import { writeReply } from './write-reply';

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

/** The HTTP edge: the webhook routes first (lean), then helmet, the access log and the rest. */
export function createApp(deps: AppDeps, serves: Serves = EVERYTHING): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (serves.webhooks) {
    const { requestsPerSecond, burst } = deps.config.server.rateLimit;
    const receiver = new Receiver({ ...deps, rateLimit: new RateLimit(requestsPerSecond, burst) });
    webhookRoutes(app, {
      receiver,
      metrics: deps.metrics,
      logger: deps.logger,
      bodyLimit: deps.config.server.bodyLimit,
    });
  }
  app.use(helmet());
  app.use(requestContext(deps.logger));
  operationRoutes(app, deps, serves);
  app.use((req, res) => {
    writeReply(res, refused('not_found', 404, [`no route ${req.method} ${loggablePath(req.path)}`]));
  });
  app.use(errorHandler(deps));
  return app;
}

/** The probes on every listener; /metrics and the console on the admin one. */
function operationRoutes(app: Express, deps: AppDeps, serves: Serves): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const reason = deps.readiness.notReadyReason();
    if (reason) res.status(503).json({ status: 'not ready', reason });
    else res.json({ status: 'ready' });
  });
  if (!serves.admin) return;
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.exposition());
  });
  if (deps.console) app.use('/console', deps.console);
}

/**
 * A failure on the routes that are not webhooks (theirs answer a Reply): a body the console
 * cannot read is the client's 4xx; anything else is a bug, a logged 500 that says nothing more.
 */
function errorHandler(deps: AppDeps) {
  // Express recognises error middleware by its four parameters.
  return (err: Error, _req: Request, res: Response, _next: NextFunction) => {
    const clientError = bodyErrorReply(err);
    if (clientError) return writeReply(res, clientError);
    const id = String(res.getHeader('X-Request-Id'));
    new RequestLog(deps.logger, id).write('error', { err }, 'unhandled error');
    if (res.headersSent) return res.end();
    writeReply(res, internalError(id));
  };
}
