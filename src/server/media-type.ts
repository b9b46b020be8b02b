type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** The media type of a request's Content-Type, lower-cased, without parameters. */
export function mediaType(headers: Headers): string | undefined {
  const header = headers['content-type'];
  if (typeof header !== 'string') return undefined;
  return header.split(';')[0].trim().toLowerCase() || undefined;
}

/**
 * Why a request's Content-Type is refused (415, before the body is read): form posts and text
 * are no registry's. A missing Content-Type is accepted because some senders omit it.
 */
export function refusedMediaType(headers: Headers, accepted: readonly string[]): string | undefined {
  const type = mediaType(headers);
  if (type === undefined || accepted.includes(type)) return undefined;
  return `Content-Type ${type} is not accepted; send one of ${accepted.join(', ')}`;
}
