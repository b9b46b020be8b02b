import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import Joi from 'joi';
import { TargetClient } from './http';

/** Where Kubernetes mounts a pod's service-account credentials. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const DEFAULT_TOKEN_PATH = `${SERVICE_ACCOUNT_DIR}/token`;
export const DEFAULT_CA_PATH = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
/** kubectl's own request timeout is unlimited; ten seconds keeps a hung API server from stalling deliveries. */
const DEFAULT_TIMEOUT_SECONDS = 10;

export interface KubernetesConnectionSettings {
  /** Empty or absent: the in-cluster address from KUBERNETES_SERVICE_HOST/PORT. */
  apiServer?: string;
  /** Empty: send no Authorization header (`kubectl proxy` and the like). */
  tokenPath?: string;
  /** Used for https when the file exists; otherwise the system trust store applies. */
  caPath?: string;
  insecureSkipTLSVerify?: boolean;
  timeoutSeconds?: number;
}

/** An emitter section's keys for reaching the API server (Kubeapps kubernetes mode, Knative sink refs). */
export interface KubernetesConnectionSection {
  /** Empty: in-cluster. */
  apiServer: string;
  tokenPath: string;
  caPath: string;
  insecureSkipTLSVerify: boolean;
}

/** The schema of those keys, with the in-cluster defaults. */
export const KUBERNETES_CONNECTION_SETTINGS: Joi.StrictSchemaMap<KubernetesConnectionSection> = {
  apiServer: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .allow('')
    .default(''),
  tokenPath: Joi.string().allow('').default(DEFAULT_TOKEN_PATH),
  caPath: Joi.string().allow('').default(DEFAULT_CA_PATH),
  insecureSkipTLSVerify: Joi.boolean().default(false),
};

/** Kubernetes object names and namespaces (RFC 1123 subdomains). */
export const objectName = Joi.string()
  .max(253)
  .pattern(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
  .messages({ 'string.pattern.base': '{{#label}} must be a Kubernetes name (lower-case letters, digits, - and .)' });

/** The `Status` object the API server answers failures with. */
export interface KubernetesStatus {
  kind: 'Status';
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export interface KubernetesResponse {
  status: number;
  body: unknown;
}

/** The credentials could not be read: a deployment problem, not a network one. */
export class KubernetesCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesCredentialsError';
  }
}

export function isKubernetesStatus(body: unknown): body is KubernetesStatus {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';
}

export function inClusterApiServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Just enough of a Kubernetes API client for reading, listing, replacing and patching objects:
 * the official client brings a large dependency tree for a handful of requests. Every answer is returned as it came
 * (callers classify statuses); only transport failures throw.
 */
export class KubernetesClient {
  readonly apiServer: string;
  private readonly tokenPath: string;
  private readonly client: TargetClient;

  constructor(settings: KubernetesConnectionSettings, env: NodeJS.ProcessEnv = process.env) {
    const apiServer = settings.apiServer || inClusterApiServer(env);
    if (!apiServer) {
      throw new Error(
        'no Kubernetes API server: set apiServer, or run in a pod where ' +
          'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set',
      );
    }
    this.apiServer = apiServer.replace(/\/+$/, '');
    this.tokenPath = settings.tokenPath ?? DEFAULT_TOKEN_PATH;

    const caPath = settings.caPath ?? DEFAULT_CA_PATH;
    this.client = new TargetClient({
      baseURL: this.apiServer,
      timeoutSeconds: settings.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      ca: this.apiServer.startsWith('https:') && caPath && existsSync(caPath) ? readFileSync(caPath) : undefined,
      insecureSkipTLSVerify: settings.insecureSkipTLSVerify,
      responseType: 'json',
    });
  }

  get(path: string): Promise<KubernetesResponse> {
    return this.request('GET', path);
  }

  put(path: string, body: unknown): Promise<KubernetesResponse> {
    return this.request('PUT', path, body);
  }

  /** A JSON merge patch (RFC 7386): sets only the fields it names, so it never conflicts with other writers. */
  mergePatch(path: string, body: unknown): Promise<KubernetesResponse> {
    return this.request('PATCH', path, body, 'application/merge-patch+json');
  }

  close(): void {
    this.client.close();
  }

  private async request(
    method: 'GET' | 'PUT' | 'PATCH',
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<KubernetesResponse> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = await this.readToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = contentType;
    const response = await this.client.http.request({ method, url: path, data: body, headers });
    return { status: response.status, body: response.data };
  }

  /** Read on every request: projected service-account tokens are rotated on disk by the kubelet. */
  private async readToken(): Promise<string | undefined> {
    if (!this.tokenPath) return undefined;
    try {
      return (await readFile(this.tokenPath, 'utf8')).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new KubernetesCredentialsError(`cannot read the service-account token at ${this.tokenPath} (${code})`);
    }
  }
}
