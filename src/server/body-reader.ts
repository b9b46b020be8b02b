import express, { type Request, type Response } from 'express';
import { tooLarge } from './error-reply';
import { refused, type Reply, type ReplyContext } from './reply';

interface BodyError extends Error {
  status?: number;
  type?: string;
  expose?: boolean;
}

/**
 * The body as bytes up to the limit, through express's body reader (the 413 before reading
 * past it, gzip and deflate). JSON parsing is ours, for 400s that name the problem.
 */
export function rawBodyReader(limitBytes: number): (req: Request, res: Response) => Promise<Buffer> {
  const read = express.raw({ type: () => true, limit: limitBytes });
  return (req, res) =>
    new Promise((resolve, reject) => {
      read(req, res, (err?: Error) => {
        if (err) reject(err);
        else resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      });
    });
}

/** The reply for an error of the body reader; undefined for anything else. */
export function bodyErrorReply(err: BodyError, context: ReplyContext = {}): Reply | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return tooLarge(context);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return refused('unsupported_media', 415, [err.message], context);
    case 'request.aborted':
    case 'request.size.invalid':
      return refused('rejected', 400, ['the request body was incomplete'], context);
  }
  if (err.status && err.status >= 400 && err.status < 500) {
    return refused('rejected', err.status, [err.expose ? err.message : 'bad request'], context);
  }
  return undefined;
}
