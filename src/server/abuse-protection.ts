import type { Request, Response } from 'express';

/**
 * The CloudEvents webhook abuse-protection handshake Event Grid sends before CloudEvents
 * deliveries: an OPTIONS request with WebHook-Request-Origin, answered by echoing the origin in
 * WebHook-Allowed-Origin. Event Grid may also name a WebHook-Request-Callback URL; the gateway
 * never calls it, because a URL taken from a request is an open door to server-side requests.
 */
export function abuseProtectionHandshake(req: Request, res: Response): void {
  const origin = req.headers['webhook-request-origin'];
  res.setHeader('Allow', 'OPTIONS, POST');
  if (typeof origin !== 'string' || origin.trim() === '') {
    res.status(200).json({ status: 'ignored', reason: 'OPTIONS without WebHook-Request-Origin' });
    return;
  }
  res.setHeader('WebHook-Allowed-Origin', origin.trim());
  res.setHeader('WebHook-Allowed-Rate', '*');
  res.status(200).json({ status: 'ignored', reason: 'CloudEvents abuse-protection handshake' });
}
