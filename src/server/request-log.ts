import { randomUUID } from 'node:crypto';
import type { Level, Logger } from 'pino';

const SAFE_ID = /^[\w.-]{1,64}$/;

/**
 * The sender's X-Request-Id when it is a plain token (so an operator can follow a delivery from
 * the registry's log), a fresh UUID otherwise.
 */
export function requestIdFrom(headers: Readonly<Record<string, string | string[] | undefined>>): string {
  const incoming = headers['x-request-id'];
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * The path as logs and error messages may show it: `/events/<provider>/<token>` carries a
 * token (the path form of authentication), which is never written anywhere.
 */
export function loggablePath(path: string): string {
  const match = /^(\/events\/[^/]*)\/./i.exec(path);
  return match ? `${match[1]}/[redacted]` : path;
}

/**
 * One request's log lines, each with its request id. Nothing is allocated for a line the level
 * drops, and no child logger is made per request: the id is one more field of the lines written.
 */
export class RequestLog {
  constructor(
    private readonly logger: Logger,
    readonly id: string,
  ) {}

  write(level: Level, fields: Record<string, unknown>, msg: string): void {
    if (!this.logger.isLevelEnabled(level)) return;
    this.logger[level]({ requestId: this.id, ...fields }, msg);
  }
}
