import { createHmac, timingSafeEqual } from 'node:crypto';
import { digest } from './tokens';

/** Lower-case hex HMAC-SHA256 of the raw body, keyed with the token's value. */
export function hmacHex(key: string, body: Buffer): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/**
 * Equal in constant time, whatever the lengths: both sides are compared as SHA-256 digests, so
 * a presented value of another length takes as long to refuse and tells nothing.
 */
export function constantTimeEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}
