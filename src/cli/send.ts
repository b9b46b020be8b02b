import { readFileSync } from 'node:fs';
import axios from 'axios';
import { contentTypeFor } from '../providers';
import type { Output } from './output';

/**
 * `registry-gateway send --url URL --token T FILE...`: posts payload files as the registry
 * would, for trying a setup end to end. Exit 1 when any post is not answered 2xx.
 */
export async function sendCommand(
  url: string,
  token: string,
  files: string[],
  out: Output,
  expect?: number,
): Promise<number> {
  let failed = 0;
  for (const file of files) {
    let text: string;
    let body: unknown;
    try {
      text = readFileSync(file, 'utf8');
      body = JSON.parse(text);
    } catch (err) {
      out.error(`${file}: cannot read a JSON body: ${(err as Error).message}`);
      failed++;
      continue;
    }
    try {
      const res = await axios.post(url, text, {
        headers: { 'Content-Type': contentTypeFor(body), Authorization: `Bearer ${token}` },
        validateStatus: () => true,
        transformResponse: (d: unknown) => d,
        timeout: 30_000,
      });
      const line = `${file}: ${res.status} ${typeof res.data === 'string' ? res.data : ''}`.trim();
      if (expect === undefined ? res.status >= 200 && res.status < 300 : res.status === expect) out.info(line);
      else {
        out.error(line);
        failed++;
      }
    } catch (err) {
      out.error(`${file}: ${(err as Error).message}`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}
