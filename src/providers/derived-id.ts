import { createHash } from 'node:crypto';
import { asObject } from './fields';

/**
 * An event id for senders that send none (Harbor's Default format, Docker Hub, Quay, JFrog):
 * `<prefix>-` and the first 32 hex digits of the SHA-256 of the canonical JSON of what
 * identifies the notification. A retry resends the same body and so gets the same id, which is
 * what the store dedups on.
 */
export function derivedId(prefix: string, identity: readonly unknown[]): string {
  return `${prefix}-${createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 32)}`;
}

/** JSON with object keys sorted at every level, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = asObject(value);
  if (object) {
    const entries = Object.keys(object)
      .sort()
      .filter((key) => object[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
