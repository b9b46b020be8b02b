import type { NextFunction, Request, Response } from 'express';
import { PayloadError, ScopeError, UnavailableError } from '../model/errors';
import type { Metrics } from '../observability/metrics';

interface HttpError extends Error {
  status?: number;
  type?: string;
  expose?: boolean;
}

/**
 * Turns every failure into a JSON answer (docs/registries.md, Status codes). Client mistakes get the 4xx that names
 * them; only a bug reaches the 500 branch, which says nothing about internals and logs the stack.
 */
export function errorHandler(metrics: Metrics) {
  // Express recognises error middleware by its four parameters.
  return (err: HttpError, req: Request, res: Response, _next: NextFunction) => {
    const provider = req.provider ?? 'unknown';
    const count = (outcome: string) => metrics.requests.inc({ provider, outcome });

    if (err instanceof PayloadError) {
      count('rejected');
      metrics.events.inc({ provider, type: 'none', outcome: 'rejected' });
      req.log?.info({ provider, errors: err.errors }, 'rejected');
      res.status(req.refusedStatus ?? 400).json({ status: 'rejected', errors: err.errors });
      return;
    }
    if (err instanceof ScopeError) {
      count('forbidden');
      req.log?.info({ provider, scope: err.scope }, 'outside token scope');
      res.status(403).json({ status: 'forbidden', scope: err.scope, errors: [err.message] });
      return;
    }
    if (err instanceof UnavailableError) {
      count('unavailable');
      req.log?.warn({ provider, reason: err.message }, 'cannot accept now');
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
      res.status(503).json({ status: 'unavailable', errors: [err.message] });
      return;
    }
    switch (err.type) {
      case 'entity.too.large':
        count('too_large');
        res.status(413).json({ status: 'rejected', errors: ['body is larger than server.bodyLimit'] });
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        count('unsupported_media');
        res.status(415).json({ status: 'rejected', errors: [err.message] });
        return;
      case 'request.aborted':
      case 'request.size.invalid':
        count('rejected');
        res.status(400).json({ status: 'rejected', errors: ['the request body was incomplete'] });
        return;
    }
    if (err.status && err.status >= 400 && err.status < 500) {
      count('rejected');
      res.status(err.status).json({ status: 'rejected', errors: [err.expose ? err.message : 'bad request'] });
      return;
    }
    count('error');
    req.log?.error({ err }, 'unhandled error');
    res.status(500).json({ status: 'error', errors: [`internal error (request ${req.id})`] });
  };
}
