import { rmSync } from 'node:fs';
import axios, { type AxiosResponse } from 'axios';
import { Gateway, parseConfig } from '../../src/gateway';
import type { RegistryEvent } from '../../src/model/event';
import { FakeKnativeBroker } from '../fakes/knative-broker';
import { memoryLogger, type MemoryLog } from '../helpers/logger';
import { tempDir } from '../helpers/gateway-process';

export const WEBHOOK_TOKEN = 'webhook-token-3f9a1c7e5d2b';
export const OPERATOR_TOKEN = 'operator-token-8e4d2a6c1f3b';
export const BRIGADE_TOKEN = 'brigade-secret-token-5c7e9a1b3d';
export const BROKER_PASSWORD = 'broker-password-2d4f6a8c';

/** Every string field an event can carry, hostile; the payload has them as keys and values too. */
export const HOSTILE = ['<script>window.__pwned=1</script>', '"><img src=x onerror="window.__pwned=1">'];

export function hostileEvent(id: string): RegistryEvent {
  const [script, img] = HOSTILE;
  return {
    id: `${id}${script}`,
    provider: 'acr',
    source: 'brigade.sh/acr',
    type: 'push',
    registry: `reg${img}.example.com`,
    repo: `team/${script}`,
    tag: img,
    digest: `sha256:${script}`,
    time: img,
    payload: { [script]: img, nested: [script, { [img]: script }], action: 'push' },
  };
}

/**
 * A gateway in this process with the console on, a Knative broker (fake, with a
 * password in its URL) and a Brigade target nobody listens to, so each page has something to show.
 */
export class ConsoleGateway {
  private constructor(
    readonly gateway: Gateway,
    readonly broker: FakeKnativeBroker,
    readonly log: MemoryLog,
    private readonly cleanup: () => void,
  ) {}

  /** `retry`: the delivery section's retry settings; the default retries within a fraction of a second. */
  static async start(
    extra = '',
    retry = { maxAttempts: 2, initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.1 },
  ): Promise<ConsoleGateway> {
    const broker = await FakeKnativeBroker.start();
    const dir = tempDir('rg-console-');
    const brokerUrl = broker.url.replace('http://', `http://gateway:${BROKER_PASSWORD}@`);
    const config = parseConfig(`
tokens:
  ci: ${WEBHOOK_TOKEN}
console:
  enabled: true
  tokens:
    alice: ${OPERATOR_TOKEN}
emitters:
  log:
    enabled: false
  knative:
    enabled: true
    brokerURL: ${brokerUrl}
  brigade:
    enabled: true
    apiAddress: http://127.0.0.1:9
    apiToken: ${BRIGADE_TOKEN}
    filter:
      types: [delete]
delivery:
  dir: ${dir}
  maxAttempts: ${retry.maxAttempts}
  initialBackoffSeconds: ${retry.initialBackoffSeconds}
  maxBackoffSeconds: ${retry.maxBackoffSeconds}
server:
  port: 0
${extra}`);
    const log = memoryLogger('info');
    const gateway = await Gateway.start(config, log.logger);
    return new ConsoleGateway(gateway, broker, log, () => rmSync(dir, { recursive: true, force: true }));
  }

  get url(): string {
    return `http://127.0.0.1:${this.gateway.port}`;
  }

  /** Posts an event the ACR way, as a registry would. */
  async postAcr(body: unknown): Promise<AxiosResponse> {
    return axios.post(`${this.url}/events/acr`, JSON.stringify(body), {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${WEBHOOK_TOKEN}` },
      validateStatus: () => true,
    });
  }

  async stop(): Promise<void> {
    await this.gateway.stop(2000);
    await this.broker.close();
    this.cleanup();
  }
}

/** A browser without a browser: cookies kept by hand, redirects not followed, any status returned. */
export class ConsoleClient {
  private cookies = new Map<string, string>();

  constructor(private readonly base: string) {}

  async get(path: string): Promise<AxiosResponse<string>> {
    return this.keep(await axios.get<string>(`${this.base}${path}`, this.options()));
  }

  async post(path: string, fields: Record<string, string>): Promise<AxiosResponse<string>> {
    const body = new URLSearchParams(fields).toString();
    const options = this.options({ 'Content-Type': 'application/x-www-form-urlencoded' });
    return this.keep(await axios.post<string>(`${this.base}${path}`, body, options));
  }

  /** The value of a hidden `_csrf` field on the page at `path`. */
  async csrfOn(path: string): Promise<string> {
    const page = await this.get(path);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.data);
    if (!match) throw new Error(`no CSRF field on ${path} (status ${page.status})`);
    return match[1];
  }

  async login(token = OPERATOR_TOKEN): Promise<AxiosResponse<string>> {
    const nonce = await this.csrfOn('/console/login');
    return this.post('/console/login', { _csrf: nonce, token });
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  private options(headers: Record<string, string> = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return {
      headers: { ...headers, ...(cookie ? { Cookie: cookie } : {}) },
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text' as const,
      transformResponse: (d: string) => d,
    };
  }

  private keep(response: AxiosResponse<string>): AxiosResponse<string> {
    for (const line of response.headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (value === '' || /Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
}
