import pino, { type Logger } from 'pino';

/**
 * Operational logs go to stderr as JSON lines, so that stdout carries only what the log emitter
 * writes (one event per line, pipeable to jq). Redaction is a second line of defence: no code
 * path logs headers or config secrets in the first place.
 */
export function createLogger(
  level = process.env.LOG_LEVEL ?? 'info',
  destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'registry-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          'headers.authorization',
          'req.headers.authorization',
          'token',
          '*.token',
          'apiToken',
          '*.apiToken',
          'tokens',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
