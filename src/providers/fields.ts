import { PayloadError } from '../model/errors';
import { isDigest, isRepository, isRfc3339, isTag } from './identifiers';

type Json = unknown;

/** How a JSON value is named in a message: `null`, `an array`, `a string`... */
export function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Reads fields out of an untrusted JSON body, collecting one message per problem with the
 * field's path, so that a 400 lists everything wrong at once instead of the first thing.
 */
export class Fields {
  constructor(
    private readonly root: Json,
    private readonly prefix = '',
    readonly errors: string[] = [],
  ) {}

  path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  raw(key: string): Json {
    let value: Json = this.root;
    for (const part of key.split('.')) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
      value = (value as Record<string, Json>)[part];
    }
    return value;
  }

  has(key: string): boolean {
    const v = this.raw(key);
    return v !== undefined && v !== null;
  }

  /** An optional string: undefined when absent, null or empty; an error when another type. */
  string(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      this.errors.push(`${this.path(key)} must be a string, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  requiredString(key: string): string {
    const value = this.raw(key);
    if (value === undefined || value === null || value === '') {
      this.errors.push(`${this.path(key)} is required`);
      return '';
    }
    return this.string(key) ?? '';
  }

  number(key: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.errors.push(`${this.path(key)} must be a number, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  /** A nested object as its own reader sharing this one's error list; absent gives undefined. */
  object(key: string, required = false): Fields | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null) {
      if (required) this.errors.push(`${this.path(key)} is required`);
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.errors.push(`${this.path(key)} must be an object, got ${describe(value)}`);
      return undefined;
    }
    return new Fields(value, this.path(key), this.errors);
  }

  /** An array of objects, each as its own reader. */
  objects(key: string, required = false): Fields[] {
    const value = this.raw(key);
    if (value === undefined || value === null) {
      if (required) this.errors.push(`${this.path(key)} is required`);
      return [];
    }
    if (!Array.isArray(value)) {
      this.errors.push(`${this.path(key)} must be an array, got ${describe(value)}`);
      return [];
    }
    const out: Fields[] = [];
    value.forEach((item, i) => {
      const p = `${this.path(key)}[${i}]`;
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        this.errors.push(`${p} must be an object, got ${describe(item)}`);
      } else {
        out.push(new Fields(item, p, this.errors));
      }
    });
    return out;
  }

  /** An OCI repository name (`team/app`). */
  repository(key: string, required = false): string | undefined {
    return this.matching(key, required, isRepository, 'a repository name');
  }

  tag(key: string): string | undefined {
    return this.matching(key, false, isTag, 'a tag');
  }

  /** An OCI digest (`sha256:...`). */
  digest(key: string, required = false): string | undefined {
    return this.matching(key, required, isDigest, 'a digest (algorithm:hex)');
  }

  /** An RFC 3339 timestamp. */
  timestamp(key: string): string | undefined {
    return this.matching(key, false, isRfc3339, 'an RFC 3339 timestamp');
  }

  private matching(key: string, required: boolean, valid: (v: string) => boolean, what: string): string | undefined {
    const value = required ? this.requiredString(key) || undefined : this.string(key);
    if (value === undefined) return undefined;
    if (!valid(value)) {
      this.errors.push(`${this.path(key)} ${JSON.stringify(value)} is not ${what}`);
      return undefined;
    }
    return value;
  }

  fail(message: string): void {
    this.errors.push(message);
  }

  /** Throws the collected problems as one 400. */
  check(): void {
    if (this.errors.length > 0) throw new PayloadError([...this.errors]);
  }
}

/** A JSON object (not array, not null) or undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
