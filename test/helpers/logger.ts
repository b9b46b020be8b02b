import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A pino logger writing into memory, so tests can assert what is (and is not) logged. */
export function memoryLogger(): { logger: Logger; lines: () => string[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, stream);
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter(Boolean),
    text: () => chunks.join(''),
  };
}
