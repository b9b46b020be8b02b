import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { loggablePath, requestIdFrom, RequestLog } from './request-log';

/**
 * Kubelet probes and Prometheus scrapes: a few a minute per pod, every minute, saying nothing an
 * operator reads the log for. Answered well they go to debug; a failing one stays at info.
 */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The access line of the routes that are not webhooks (probes, /metrics, the console): the
 * request id echoed in X-Request-Id and logged with the path only (query strings can carry
 * credentials). The webhook routes write their own line once their Reply is written.
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const log = new RequestLog(logger, requestIdFrom(req.headers));
    res.setHeader('X-Request-Id', log.id);
    const started = process.hrtime.bigint();
    // Read before routing: a mounted router rewrites req.path to what follows its mount point.
    const method = req.method;
    const path = req.path;
    const probe = (method === 'GET' || method === 'HEAD') && PROBE_PATHS.has(path);
    res.on('finish', () => {
      const status = res.statusCode;
      log.write(
        probe && status < 400 ? 'debug' : 'info',
        { method, path: loggablePath(path), status, durationMs: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  };
}
