import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A Kubernetes API server on loopback serving `kubeapps.com/v1alpha1` AppRepositories, with the
 * behaviour an updater must cope with: bearer-token authentication (401), RBAC refusals (403),
 * NotFound, optimistic concurrency (a PUT with a stale `metadata.resourceVersion` gets 409
 * Conflict, one without any gets 422, as for every custom resource) and a resourceVersion that
 * changes on every write. `concurrentUpdates(n)` makes another writer update the object just
 * before each of the next n PUTs, which is how a real 409 happens.
 *
 * Any other namespaced object (a Broker, a Knative Service, a Channel, a core Service) is served
 * for GET once `setObject` has put it there, and is NotFound before and after `deleteObject`.
 *
 * Also exports the Kubernetes `Status` helpers the Kubeapps fake relays.
 */

export const APPREPOSITORY_API_VERSION = 'kubeapps.com/v1alpha1';

export interface AppRepositoryObject {
  apiVersion: string;
  kind: 'AppRepository';
  metadata: { name: string; namespace: string; resourceVersion: string; [key: string]: unknown };
  spec: { url?: string; type?: string; resyncRequests?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface KubernetesApiRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
  /** Parsed JSON body of a PUT. */
  body?: unknown;
}

export interface FakeKubernetesApiOptions {
  /** The one token the fake accepts; any other or none gets 401. */
  token: string;
  /** Serve https with this key pair instead of plain http. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

const APPREPOSITORY_PATH = /^\/apis\/kubeapps\.com\/v1alpha1\/namespaces\/([^/]+)\/apprepositories\/([^/]+)$/;
/** `/api/v1/...` or `/apis/<group>/<version>/...`, then `namespaces/<ns>/<resource>/<name>`. */
const OBJECT_PATH = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/;

/** A namespaced object of any kind, as `setObject` takes it. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; [key: string]: unknown };
  [key: string]: unknown;
}

export function objectPath(object: KubernetesObject, resource: string): string {
  const base = object.apiVersion === 'v1' ? '/api/v1' : `/apis/${object.apiVersion}`;
  return `${base}/namespaces/${object.metadata.namespace}/${resource}/${object.metadata.name}`;
}

export class FakeKubernetesApi {
  readonly requests: KubernetesApiRequest[] = [];
  private readonly objects = new Map<string, AppRepositoryObject>();
  /** Objects of other kinds, by API path. */
  private readonly others = new Map<string, KubernetesObject>();
  private readonly forbiddenNamespaces = new Set<string>();
  private readonly queuedStatuses: number[] = [];
  private pendingConcurrentUpdates = 0;
  private lastResourceVersion = 1000;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FakeKubernetesApiOptions,
  ) {}

  static async start(options: FakeKubernetesApiOptions): Promise<FakeKubernetesApi> {
    const server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert })
      : http.createServer();
    const api = new FakeKubernetesApi(server, options);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      api.handle(req, res).catch((err: unknown) => sendStatus(res, 500, String(err)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  addAppRepository(namespace: string, name: string, spec: AppRepositoryObject['spec'] = {}): AppRepositoryObject {
    const object: AppRepositoryObject = {
      apiVersion: APPREPOSITORY_API_VERSION,
      kind: 'AppRepository',
      metadata: { name, namespace, resourceVersion: this.nextResourceVersion(), uid: `uid-${namespace}-${name}` },
      spec: { type: 'helm', url: `https://charts.example.com/${name}`, ...spec },
    };
    this.objects.set(`${namespace}/${name}`, object);
    return structuredClone(object);
  }

  appRepository(namespace: string, name: string): AppRepositoryObject | undefined {
    const object = this.objects.get(`${namespace}/${name}`);
    return object && structuredClone(object);
  }

  /** Creates or replaces an object of another kind (`resource` is its plural, e.g. brokers). */
  setObject(object: KubernetesObject, resource: string): void {
    this.others.set(objectPath(object, resource), structuredClone(object));
  }

  deleteObject(object: KubernetesObject, resource: string): void {
    this.others.delete(objectPath(object, resource));
  }

  /** Another writer bumps `spec.resyncRequests` just before each of the next `count` PUTs. */
  concurrentUpdates(count: number): void {
    this.pendingConcurrentUpdates += count;
  }

  /** Requests in this namespace get 403, as when the service account has no RBAC grant there. */
  forbid(namespace: string): void {
    this.forbiddenNamespaces.add(namespace);
  }

  /** Answer the next requests with these statuses (as Status objects), one each. */
  failNext(...statuses: number[]): void {
    this.queuedStatuses.push(...statuses);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nextResourceVersion(): string {
    this.lastResourceVersion += 1;
    return String(this.lastResourceVersion);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    const record: KubernetesApiRequest = {
      method: req.method ?? '',
      path,
      status: 0,
      authorization: req.headers.authorization,
    };
    this.requests.push(record);
    const status = (code: number, message: string) => {
      record.status = code;
      sendStatus(res, code, message);
    };
    const json = (code: number, body: unknown) => {
      record.status = code;
      sendJson(res, code, body);
    };

    if (bearerToken(req) !== this.options.token) return status(401, 'Unauthorized');
    const match = APPREPOSITORY_PATH.exec(path);
    const other = match ? null : OBJECT_PATH.exec(path);
    if (other) {
      const [, group, namespace, plural, name] = other;
      const resource = group ? `${plural}.${group}` : plural;
      if (req.method !== 'GET') return status(405, `method ${req.method} not allowed`);
      if (this.forbiddenNamespaces.has(namespace)) {
        return status(
          403,
          `${resource} "${name}" is forbidden: User "system:serviceaccount:registry-gateway:registry-gateway" ` +
            `cannot get resource "${plural}" in API group "${group ?? ''}" in the namespace "${namespace}"`,
        );
      }
      const forced = this.queuedStatuses.shift();
      if (forced !== undefined) return status(forced, `forced ${forced}`);
      const object = this.others.get(path);
      return object ? json(200, object) : status(404, `${resource} "${name}" not found`);
    }
    if (!match) return status(404, 'the server could not find the requested resource');
    const [namespace, name] = [decodeURIComponent(match[1]), decodeURIComponent(match[2])];
    const verb = req.method === 'PUT' ? 'update' : 'get';
    if (this.forbiddenNamespaces.has(namespace)) {
      return status(
        403,
        `apprepositories.kubeapps.com "${name}" is forbidden: User "system:serviceaccount:registry-gateway:registry-gateway" ` +
          `cannot ${verb} resource "apprepositories" in API group "kubeapps.com" in the namespace "${namespace}"`,
      );
    }
    const forced = this.queuedStatuses.shift();
    if (forced !== undefined) return status(forced, `forced ${forced}`);

    const key = `${namespace}/${name}`;
    const stored = this.objects.get(key);
    if (req.method === 'GET') {
      if (!stored) return status(404, `apprepositories.kubeapps.com "${name}" not found`);
      return json(200, stored);
    }
    if (req.method !== 'PUT') return status(405, `method ${req.method} not allowed`);

    let body: AppRepositoryObject;
    try {
      body = JSON.parse(text) as AppRepositoryObject;
    } catch {
      return status(400, 'the body of the request was in an unknown format');
    }
    record.body = body;
    if (body.apiVersion !== APPREPOSITORY_API_VERSION || body.kind !== 'AppRepository') {
      return status(400, `the API version in the data (${body.apiVersion}) does not match the expected API version`);
    }
    if (body.metadata?.name !== name || (body.metadata.namespace ?? namespace) !== namespace) {
      return status(
        400,
        `the name of the object (${body.metadata?.name}) does not match the name on the URL (${name})`,
      );
    }
    if (!stored) return status(404, `apprepositories.kubeapps.com "${name}" not found`);
    if (!body.metadata.resourceVersion) {
      return status(
        422,
        `AppRepository.kubeapps.com "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
      );
    }

    if (this.pendingConcurrentUpdates > 0) {
      this.pendingConcurrentUpdates -= 1;
      stored.spec.resyncRequests = (stored.spec.resyncRequests ?? 0) + 1;
      stored.metadata.resourceVersion = this.nextResourceVersion();
    }
    if (body.metadata.resourceVersion !== stored.metadata.resourceVersion) {
      return status(
        409,
        `Operation cannot be fulfilled on apprepositories.kubeapps.com "${name}": the object has been modified; ` +
          'please apply your changes to the latest version and try again',
      );
    }
    const updated: AppRepositoryObject = structuredClone(body);
    updated.metadata = { ...updated.metadata, namespace, resourceVersion: this.nextResourceVersion() };
    this.objects.set(key, updated);
    return json(200, updated);
  }
}

/** The `Status` object Kubernetes (and Kubeapps, relaying it) answers failures with. */
export function kubernetesStatus(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: http.ServerResponse, code: number, message: string): void {
  sendJson(res, code, kubernetesStatus(code, STATUS_REASONS[code] ?? 'Unknown', message));
}

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The token of an `Authorization: Bearer` header, or undefined. */
export function bearerToken(req: http.IncomingMessage): string | undefined {
  return /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
}
