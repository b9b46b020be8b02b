import type { ServerResponse } from 'node:http';
import type { Reply } from './reply';

/**
 * The response headers a JSON API needs, in place of helmet's twelve on `/events` (helmet stays
 * on the console and the other routes): no sniffing the JSON as something else, nothing of it
 * framed or loaded by another origin, no caching of an answer, HSTS as helmet sends it.
 */
const JSON_API_HEADERS: [string, string][] = [
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cache-Control', 'no-store'],
];

export function setJsonApiHeaders(res: ServerResponse): void {
  for (const [name, value] of JSON_API_HEADERS) res.setHeader(name, value);
}

/** Writes a Reply as an HTTP response: its status, its headers, its body as JSON. */
export function writeReply(res: ServerResponse, reply: Reply): void {
  const body = JSON.stringify(reply.body);
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.statusCode = reply.status;
  res.end(body);
}
