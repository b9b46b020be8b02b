/**
 * What an emitter would send for an event, rendered for a person (the console) and never sent.
 * Credentials are the one thing left out: a header that carries one shows HIDDEN_CREDENTIAL, and
 * a user name or password written into a URL is removed.
 */
export interface TargetRequest {
  /** What the request is for, when an emitter sends several (one per AppRepository). */
  title: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body as sent, JSON pretty-printed; absent when there is none. */
  body?: string;
}

export const HIDDEN_CREDENTIAL = '(credential not shown)';

/** `url` without the user name and password some people write into a broker or API address. */
export function withoutUserInfo(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    // Not a URL the emitter could have used either: shown as configured, minus anything before @.
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** A JSON body as sent, re-indented so a person can read it. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
