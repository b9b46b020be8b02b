import express, { type NextFunction, type Request, type Response } from 'express';
import { PayloadError } from '../model/errors';

/**
 * The media types registries send (CONTRACT §2), plus Event Grid's batched CloudEvents and the
 * envelope type newer Distribution releases use. A missing Content-Type is accepted because some
 * senders omit it; anything else (form posts, text) is refused with 415 before the body is read.
 */
export const ACCEPTED_MEDIA_TYPES = [
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
];

export function mediaType(req: Request): string | undefined {
  const header = req.headers['content-type'];
  if (!header) return undefined;
  return header.split(';')[0].trim().toLowerCase() || undefined;
}

export function requireAcceptedMediaType(req: Request, res: Response, next: NextFunction): void {
  const type = mediaType(req);
  if (type !== undefined && !ACCEPTED_MEDIA_TYPES.includes(type)) {
    res.status(415).json({
      status: 'rejected',
      errors: [`Content-Type ${type} is not accepted; send one of ${ACCEPTED_MEDIA_TYPES.join(', ')}`],
    });
    return;
  }
  next();
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
