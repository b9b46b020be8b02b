import { constantTimeEqual, hmacHex } from './hmac';

export const GITHUB_SIGNATURE_HEADER = 'x-hub-signature-256';

/**
 * GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
 * body as received (never a re-serialisation, whose bytes differ) keyed with the webhook
 * secret. The legacy SHA-1 `X-Hub-Signature` is not accepted.
 */
export function verifyGithubSignature(header: string | undefined, body: Buffer, secret: string): boolean {
  if (header === undefined) return false;
  return constantTimeEqual(header, `sha256=${hmacHex(secret, body)}`);
}
