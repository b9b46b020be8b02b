import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    /** Set by the events handler once known, for the access log and metrics. */
    provider?: string;
    /** The provider's status for a refused body, where its sender needs other than 400. */
    refusedStatus?: number;
    /** Set once the request has met the rate limit. */
    rateChecked?: boolean;
  }
}

const SAFE_ID = /^[\w.-]{1,64}$/;

/**
 * The path as logs and error messages may show it: `/events/<provider>/<token>` carries a
 * token (the path form of authentication), which is never written anywhere.
 */
export function loggablePath(path: string): string {
  const match = /^(\/events\/[^/]*)\/./i.exec(path);
  return match ? `${match[1]}/[redacted]` : path;
}

/**
 * Kubelet probes and Prometheus scrapes: a few a minute per pod, every minute, saying nothing an
 * operator reads the log for. Answered well they go to debug; a failing one stays at info.
 */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A request id on every log line: the sender's X-Request-Id when it is a plain token (so an
 * operator can follow a delivery from the registry's log), a fresh UUID otherwise. The access
 * log names the path only (query strings can carry credentials), with any path token redacted.
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ requestId: req.id });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    // Read before routing: a mounted router rewrites req.path to what follows its mount point.
    const probe = (req.method === 'GET' || req.method === 'HEAD') && PROBE_PATHS.has(req.path);
    res.on('finish', () => {
      req.log[probe && res.statusCode < 400 ? 'debug' : 'info'](
        {
          method: req.method,
          path: loggablePath(req.path),
          status: res.statusCode,
          provider: req.provider,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}
