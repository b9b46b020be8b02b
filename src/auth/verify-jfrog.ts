import { constantTimeEqual, hmacHex } from './hmac';

export const JFROG_AUTH_HEADER = 'x-jfrog-event-auth';

/**
 * JFrog webhooks with a secret send it in `X-JFrog-Event-Auth`; with "send payload signature"
 * on, that header carries a signature of the body instead. JFrog does not document the
 * algorithm; receivers tested against JFrog Cloud check the lower-case hex HMAC-SHA256 of the
 * raw body keyed with the secret, so that is what is accepted besides the secret itself.
 */
export function verifyJfrogAuth(header: string | undefined, body: Buffer, secret: string): boolean {
  if (header === undefined) return false;
  // Both are computed before either is looked at, so which one matched takes the same time.
  const isSecret = constantTimeEqual(header, secret);
  const isSignature = constantTimeEqual(header, hmacHex(secret, body));
  return isSecret || isSignature;
}
