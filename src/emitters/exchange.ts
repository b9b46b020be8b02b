import { AsyncLocalStorage } from 'node:async_hooks';
import { HIDDEN_CREDENTIAL, withoutUserInfo } from './preview';

/** A request as a target was sent it, credentials hidden: what an operator reads in the console. */
export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** What the target answered: its status, headers and the start of its body (untrusted text). */
export interface TargetAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body was longer than ANSWER_BODY_BYTES and is cut there. */
  truncated?: boolean;
}

/** One request of an attempt and its answer; no answer when the request got none (`error` says why). */
export interface Exchange {
  request: SentRequest;
  answer?: TargetAnswer;
  error?: string;
}

/** Enough of a body to read a target's reason for refusing, small enough to keep for every attempt. */
export const ANSWER_BODY_BYTES = 4096;
/** An attempt that makes more requests than this (a Kubeapps resync) keeps its last ones. */
const MAX_EXCHANGES = 8;

/**
 * Header and query-parameter names that carry, or may carry, a credential: their values are
 * never kept. Broad on purpose: hiding a harmless header costs nothing, keeping a secret does.
 */
const SECRET_NAME = /auth|token|key|secret|signature|password|passwd|cookie|session|credential|bearer|jwt|sig$/i;

export function hideSecrets(headers: Record<string, unknown>): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    const one = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
    const text = Array.isArray(value) ? value.map(one).join(', ') : one(value);
    shown[name] = SECRET_NAME.test(name) ? HIDDEN_CREDENTIAL : text;
  }
  return shown;
}

/** `url` without user info, and with the values of secret-looking query parameters hidden. */
export function shownUrl(url: string): string {
  const bare = withoutUserInfo(url);
  try {
    const parsed = new URL(bare);
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_NAME.test(name)) parsed.searchParams.set(name, HIDDEN_CREDENTIAL);
    }
    return parsed.toString();
  } catch {
    return bare;
  }
}

/** The body's first ANSWER_BODY_BYTES bytes as text; a parsed JSON body as its JSON. */
export function answerBody(data: unknown): { body: string; truncated?: boolean } {
  let text: string;
  if (data === undefined || data === null) text = '';
  else if (typeof data === 'string') text = data;
  else if (Buffer.isBuffer(data)) text = data.toString('utf8');
  else text = JSON.stringify(data) ?? '';
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= ANSWER_BODY_BYTES) return { body: text };
  // A character cut in two at the limit decodes as U+FFFD: dropped rather than shown.
  return {
    body: bytes
      .subarray(0, ANSWER_BODY_BYTES)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
    truncated: true,
  };
}

const recording = new AsyncLocalStorage<Exchange[]>();

/**
 * Runs one attempt and collects the requests it sends to its target and their answers. The
 * shared HTTP client notes each exchange into the attempt running it (an async context, so
 * concurrent attempts on one client never mix), whatever the emitter: no emitter has to thread
 * them through its results and errors. `exchanges` fills as the attempt goes, so an attempt cut
 * off by its deadline still shows what it had sent.
 */
export function recordExchanges<T>(work: () => Promise<T>): { result: Promise<T>; exchanges: Exchange[] } {
  const exchanges: Exchange[] = [];
  return { result: recording.run(exchanges, work), exchanges };
}

/** Notes one exchange of the attempt running now; outside an attempt (a preview, a test) it goes nowhere. */
export function noteExchange(exchange: Exchange): void {
  const current = recording.getStore();
  if (!current) return;
  current.push(exchange);
  if (current.length > MAX_EXCHANGES) current.shift();
}
