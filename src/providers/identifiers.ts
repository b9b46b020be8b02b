/**
 * Syntax of the things an event names, as the OCI distribution spec defines them. A value
 * outside these is a masked or broken sample, and Brigade would refuse it as a label anyway.
 */

const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const HOST = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]{1,5})?$`);
const REPO_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${REPO_COMPONENT}(?:/${REPO_COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Host, optionally with port, already lower-cased. */
export function isRegistryHost(value: string): boolean {
  return value.length <= 253 && HOST.test(value);
}

export function isRepository(value: string): boolean {
  return value.length <= 255 && REPOSITORY.test(value);
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/**
 * Registered algorithms have a fixed encoding (OCI image-spec, descriptor.md): a digest that
 * only looks like `sha256:...` (masked `xxxx`, truncated) names no content and must not become
 * a label a consumer will try to pull by.
 */
const REGISTERED_DIGEST_ENCODINGS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export function isDigest(value: string): boolean {
  if (value.length > 255 || !DIGEST.test(value)) return false;
  const separator = value.indexOf(':');
  const encoding = REGISTERED_DIGEST_ENCODINGS[value.slice(0, separator)];
  return encoding === undefined || encoding.test(value.slice(separator + 1));
}

export function isRfc3339(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/** Unix seconds (Harbor's `occur_at`) as RFC 3339. */
export function fromUnixSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
