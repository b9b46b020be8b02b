import type { Reply } from './reply';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The CloudEvents webhook abuse-protection handshake Event Grid sends before CloudEvents
 * deliveries: an OPTIONS request with WebHook-Request-Origin, answered by echoing the origin in
 * WebHook-Allowed-Origin. Event Grid may also name a WebHook-Request-Callback URL; the gateway
 * never calls it, because a URL taken from a request is an open door to server-side requests.
 */
export function abuseProtectionHandshake(headers: Headers, token?: string): Reply {
  const origin = headers['webhook-request-origin'];
  const answer = (reason: string, extra: Record<string, string>): Reply => ({
    status: 200,
    headers: { Allow: 'OPTIONS, POST', ...extra },
    body: { status: 'ignored', reason },
    outcome: { result: 'answered', reason },
    token,
  });
  if (typeof origin !== 'string' || origin.trim() === '') {
    return answer('OPTIONS without WebHook-Request-Origin', {});
  }
  return answer('CloudEvents abuse-protection handshake', {
    'WebHook-Allowed-Origin': origin.trim(),
    'WebHook-Allowed-Rate': '*',
  });
}
