/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * with the key taken from a `whsec_<base64>` secret. Receivers check it with any of the
 * specification's reference libraries, so the bytes signed must be exactly the bytes sent.
 */
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';
/** The specification asks for 24 to 64 random bytes; fewer are guessable, more are not read by some libraries. */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const SECRET_FORM = `whsec_ followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes`;

/**
 * The key bytes of a `whsec_<base64>` secret, or why the text is not one. The reason never
 * quotes the text: it is a secret, and a near-miss is still most of one.
 */
export function secretKey(text: string): { key: Buffer } | { problem: string } {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) return { problem: `must be ${SECRET_FORM} (it does not start with whsec_)` };
  const encoded = trimmed.slice(PREFIX.length);
  if (!BASE64.test(encoded)) return { problem: `must be ${SECRET_FORM} (the part after whsec_ is not base64)` };
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    return { problem: `must be ${SECRET_FORM} (it holds ${key.length} bytes)` };
  }
  return { key };
}

/** The three headers of one attempt; the id is the same on every attempt, the timestamp is now. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signedHeaders(key: Buffer, id: string, timestampSeconds: number, body: string): SignedHeaders {
  const timestamp = String(Math.floor(timestampSeconds));
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}
