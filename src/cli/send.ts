import { readFileSync } from 'node:fs';
import axios from 'axios';
import { hmacHex } from '../auth/hmac';
import { GITHUB_SIGNATURE_HEADER } from '../auth/verify-github';
import { JFROG_AUTH_HEADER } from '../auth/verify-jfrog';
import type { TokenVerification } from '../config/types';
import { presentedCredential } from '../auth/credential';
import { Credentials } from '../auth/credentials';
import { loadConfig } from '../gateway';
import { detectProvider, PROVIDERS } from '../providers';
import { Receiver, type Inbound } from '../server/receive';
import { headersFileFor, readHeadersFile } from './headers-file';
import type { Output } from './output';

export interface SendOptions {
  /** `/events`, or `/events/<provider>`. */
  url: string;
  token: string;
  files: string[];
  /** How the gateway checks the token: the `verify:` of its entry in `tokens`. Default bearer. */
  verify?: TokenVerification;
  /** The status every answer must have; any 2xx when unset. */
  expect?: number;
  /**
   * `--dry-run`: no server; each request goes to this in-process edge (built from `--config`,
   * storing nothing) and its answer is printed as the gateway would give it.
   */
  local?: Receiver;
}

interface Prepared {
  url: string;
  headers: Record<string, string>;
  /**
   * The file's bytes as they are: a Buffer, because axios trims a string body, and a signature
   * is over the exact bytes sent.
   */
  body: Buffer;
}

/** Header names compare without case; the last spelling set is the one sent. */
class HeaderSet {
  private readonly byName = new Map<string, [string, string]>();
  set(name: string, value: string): void {
    this.byName.set(name.toLowerCase(), [name, value]);
  }
  get(name: string): string | undefined {
    return this.byName.get(name.toLowerCase())?.[1];
  }
  lowerCased(): Record<string, string> {
    return Object.fromEntries([...this.byName].map(([lower, [, value]]) => [lower, value]));
  }
  asSent(): Record<string, string> {
    return Object.fromEntries(this.byName.values());
  }
}

/**
 * `/events/<provider>/<token>` for a path token: the provider from the URL when it names one,
 * else the one the body is detected as.
 */
function pathTokenUrl(url: string, provider: string | undefined, token: string): string {
  const target = new URL(url);
  const base = target.pathname.replace(/\/+$/, '');
  if (/\/events\/[^/]+$/.test(base)) target.pathname = `${base}/${encodeURIComponent(token)}`;
  else if (base.endsWith('/events') && provider) {
    target.pathname = `${base}/${provider}/${encodeURIComponent(token)}`;
  } else if (base.endsWith('/events')) {
    throw new Error('no registry recognises this body, so the path token has no /events/<provider> to go under');
  } else throw new Error('a path token needs a --url that ends in /events or /events/<provider>');
  return target.toString();
}

/**
 * The request a registry would make for one payload file. Headers come from three places, each
 * over the one before: the provider's own knowledge of what its registry sends with such a body
 * (GitHub's event name and delivery id), the file's `.headers` sidecar, and the credential in
 * the form the token is verified by (a Bearer header, a body signature, a path segment).
 */
export function prepareRequest(file: string, options: Pick<SendOptions, 'url' | 'token' | 'verify'>): Prepared {
  let bytes: Buffer;
  let body: unknown;
  try {
    bytes = readFileSync(file);
    body = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`cannot read a JSON body: ${(err as Error).message}`, { cause: err });
  }
  const headers = new HeaderSet();
  const sidecar = readHeadersFile(headersFileFor(file)) ?? {};
  for (const [name, value] of Object.entries(sidecar)) headers.set(name, value);
  const given = headers.lowerCased();
  const contentType = given['content-type']?.split(';')[0].trim().toLowerCase();
  const provider = detectProvider({ body, contentType, headers: given });

  for (const [name, value] of Object.entries(provider?.sendHeaders?.(body) ?? {})) {
    if (headers.get(name) === undefined) headers.set(name, value);
  }
  if (headers.get('content-type') === undefined) {
    headers.set('Content-Type', provider ? (provider.sendsAs?.(body) ?? provider.mediaTypes[0]) : 'application/json');
  }

  let url = options.url;
  const verify = options.verify ?? 'bearer';
  if (verify === 'github-hmac') {
    headers.set(GITHUB_SIGNATURE_HEADER, `sha256=${hmacHex(options.token, bytes)}`);
  } else if (verify === 'jfrog') {
    // JFrog's signed form: the secret itself never crosses the wire.
    headers.set(JFROG_AUTH_HEADER, hmacHex(options.token, bytes));
  } else if (verify === 'path') {
    url = pathTokenUrl(options.url, provider?.name, options.token);
  } else {
    // bearer, and google-oidc: an identity token (`gcloud auth print-identity-token`) is a Bearer token.
    headers.set('Authorization', `Bearer ${options.token}`);
  }
  return { url, headers: headers.asSent(), body: bytes };
}

/**
 * The prepared request as the edge's input, for `--dry-run`: what the gateway would read from
 * the same bytes and headers over HTTP (the provider and a path token from the URL's path).
 */
export function inboundOf(request: Prepared): Inbound {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const [, provider, pathToken] = /\/events(?:\/([^/]+))?(?:\/([^/]+))?\/*$/.exec(new URL(request.url).pathname) ?? [];
  const decode = (segment: string | undefined) => (segment === undefined ? undefined : decodeURIComponent(segment));
  return {
    provider: decode(provider),
    credential: presentedCredential(headers, decode(pathToken)),
    headers,
    rawBody: request.body,
  };
}

/**
 * The edge of the gateway `configFile` configures, in this process, with an intake that keeps
 * nothing: `send --dry-run` shows what the gateway would answer (401, 403, 400 naming the field,
 * the events a 202 would carry) without a server, a store or a delivery.
 */
export function dryRunEdge(configFile: string): Receiver {
  const config = loadConfig(configFile);
  return new Receiver({
    config,
    credentials: new Credentials(config.tokens),
    providers: PROVIDERS,
    intake: { accept: (events) => Promise.resolve(events.map((event) => ({ event, duplicate: false }))) },
  });
}

/** One request's answer: over HTTP from the gateway at `--url`, or from the in-process edge. */
async function answer(request: Prepared, local: Receiver | undefined): Promise<{ status: number; body: string }> {
  if (local) {
    const reply = await local.receive(inboundOf(request));
    return { status: reply.status, body: JSON.stringify(reply.body) };
  }
  const res = await axios.post(request.url, request.body, {
    headers: request.headers,
    validateStatus: () => true,
    transformResponse: (d: unknown) => d,
    timeout: 30_000,
  });
  return { status: res.status, body: typeof res.data === 'string' ? res.data : '' };
}

/**
 * `registry-gateway send --url URL --token T [--verify FORM] FILE...`: posts payload files as
 * their registries would, for trying a setup end to end. Exit 1 when any post is not answered
 * as expected. Nothing printed carries the token, whichever form it travels in.
 */
export async function sendCommand(options: SendOptions, out: Output): Promise<number> {
  const redact = (line: string) => line.split(options.token).join('[token]');
  let failed = 0;
  for (const file of options.files) {
    let request: Prepared;
    try {
      request = prepareRequest(file, options);
    } catch (err) {
      out.error(redact(`${file}: ${(err as Error).message}`));
      failed++;
      continue;
    }
    try {
      const res = await answer(request, options.local);
      const line = redact(`${file}: ${res.status} ${res.body}`.trim());
      const ok = options.expect === undefined ? res.status >= 200 && res.status < 300 : res.status === options.expect;
      if (ok) out.info(line);
      else {
        out.error(line);
        failed++;
      }
    } catch (err) {
      out.error(redact(`${file}: ${(err as Error).message}`));
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}
