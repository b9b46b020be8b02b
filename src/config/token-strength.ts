/**
 * A token is the only thing between the internet and the delivery queue, and the values files
 * people start from show placeholders. A pasted placeholder or a short word must stop the
 * gateway before it listens, not become a shared secret anyone can read in the README.
 */
export const MIN_TOKEN_LENGTH = 16;
/** For `verify: path`, where the token is part of the URL. */
export const MIN_PATH_TOKEN_LENGTH = 32;
export const GENERATE_HINT = 'generate one with `openssl rand -hex 32`';

// Words that documentation and templates put where a secret belongs.
const PLACEHOLDER_WORDS = [
  'changeme',
  'change-me',
  'change_me',
  'replaceme',
  'replace-me',
  'replace_me',
  'placeholder',
  'yourtoken',
  'your-token',
  'your_token',
  'insert',
  'todo',
  'fixme',
  'xxxx',
  'openssl',
];

/** Why a token value cannot be used, or undefined. Never quotes the value: callers log this. */
export function tokenWeakness(value: string): string | undefined {
  const lower = value.toLowerCase();
  if (/[<>{}\s]/.test(value) || PLACEHOLDER_WORDS.some((word) => lower.includes(word))) {
    return 'looks like a placeholder, not a token';
  }
  if (value.length < MIN_TOKEN_LENGTH) {
    return `is shorter than ${MIN_TOKEN_LENGTH} characters`;
  }
  if (new Set(value).size < 4) return 'repeats too few characters to be a secret';
  return undefined;
}
