import express, { type NextFunction, type Request, type Response } from 'express';
import { PayloadError } from '../model/errors';

export function mediaType(req: Request): string | undefined {
  const header = req.headers['content-type'];
  if (!header) return undefined;
  return header.split(';')[0].trim().toLowerCase() || undefined;
}

/**
 * Refuses with 415, before the body is read, a Content-Type no registry sends (form posts,
 * text). A missing Content-Type is accepted because some senders omit it.
 */
export function requireAcceptedMediaType(accepted: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const type = mediaType(req);
    if (type !== undefined && !accepted.includes(type)) {
      res.status(415).json({
        status: 'rejected',
        errors: [`Content-Type ${type} is not accepted; send one of ${accepted.join(', ')}`],
      });
      return;
    }
    next();
  };
}

/** Reads the body as bytes up to the limit (413 past it); JSON parsing is ours, for clear 400s. */
export function rawBody(limitBytes: number) {
  return express.raw({ type: () => true, limit: limitBytes });
}

export function parseJsonBody(req: Request): unknown {
  const raw: unknown = req.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
  if (text.trim() === '') throw new PayloadError('body is empty: send the webhook JSON');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PayloadError(`body is not valid JSON: ${(err as Error).message}`);
  }
}
