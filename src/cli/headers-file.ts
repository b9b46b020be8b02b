import { existsSync, readFileSync } from 'node:fs';

/** RFC 9110's token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Where the headers that go with a payload file live: `NAME.headers` beside `NAME.json`. Not a
 * `.json` file, so `send dir/*.json` never takes it for a body.
 */
export function headersFileFor(payloadFile: string): string {
  return `${payloadFile.replace(/\.json$/i, '')}.headers`;
}

/**
 * A headers file: one `Name: value` per line, blank lines ignored. It is the format `curl -H
 * @FILE` reads, so the same file serves a curl command. Undefined when there is none; throws
 * with the file and line for a line that is not a header.
 */
export function readHeadersFile(file: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const headers: Record<string, string> = {};
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((line, index) => {
      if (line.trim() === '') return;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon).trim() : '';
      if (!HEADER_NAME.test(name)) {
        throw new Error(`${file}:${index + 1}: not a "Name: value" header line`);
      }
      headers[name] = line.slice(colon + 1).trim();
    });
  return headers;
}
