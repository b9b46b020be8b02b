import pino, { type Logger } from 'pino';

/**
 * Operational logs go to stderr as JSON lines, so that stdout carries only what the log emitter
 * writes (one event per line, pipeable to jq). Redaction is a second line of defence: no code
 * path logs headers or config secrets in the first place.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
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
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
