import { Writable } from 'node:stream';
import pino, { type Level, type Logger } from 'pino';

export interface MemoryLog {
  logger: Logger;
  /** Every line as parsed JSON, appended as it is written. */
  records: Record<string, unknown>[];
  lines: () => string[];
  text: () => string;
}

/** A real pino logger writing into memory, so tests can assert what is (and is not) logged. */
export function memoryLogger(level: Level = 'trace'): MemoryLog {
  const chunks: string[] = [];
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const text = String(chunk);
      chunks.push(text);
      for (const line of text.split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return {
    logger: pino({ level }, stream),
    records,
    lines: () => chunks.join('').split('\n').filter(Boolean),
    text: () => chunks.join(''),
  };
}
