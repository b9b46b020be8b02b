import { PayloadError } from '../model/errors';

/** The body as JSON; our own parse rather than a body parser's, for 400s that name the problem. */
export function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new PayloadError('body is empty: send the webhook JSON');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PayloadError(`body is not valid JSON: ${(err as Error).message}`);
  }
}
