import type { RequestHandler } from 'express';

/**
 * One token bucket for the whole gateway: `requestsPerSecond` refill, `burst` capacity (default
 * one second's worth). Registries retry on 429, so shedding load here is safe; 0 turns it off.
 */
export function rateLimit(requestsPerSecond: number, burst: number, now = () => Date.now()): RequestHandler {
  if (requestsPerSecond <= 0) return (_req, _res, next) => next();
  const capacity = Math.max(1, burst || Math.ceil(requestsPerSecond));
  let tokens = capacity;
  let last = now();
  return (_req, res, next) => {
    const t = now();
    tokens = Math.min(capacity, tokens + ((t - last) / 1000) * requestsPerSecond);
    last = t;
    if (tokens >= 1) {
      tokens -= 1;
      next();
      return;
    }
    const wait = Math.max(1, Math.ceil((1 - tokens) / requestsPerSecond));
    res.setHeader('Retry-After', String(wait));
    res
      .status(429)
      .json({ status: 'rate_limited', errors: [`over ${requestsPerSecond} requests per second; retry later`] });
  };
}
