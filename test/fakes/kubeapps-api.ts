import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  APPREPOSITORY_API_VERSION,
  bearerToken,
  readBody,
  sendJson,
  sendStatus,
  type AppRepositoryObject,
} from './kubernetes-api';

/**
 * Kubeapps 2.1–2.4's AppRepository refresh endpoint on loopback:
 * `POST /api/v1/clusters/{cluster}/namespaces/{namespace}/apprepositories/{name}/refresh`.
 * Kubeapps acts with the caller's bearer token and relays the Kubernetes API's answer, so
 * failures are Kubernetes Status objects: 401 for a missing or unknown token, 403 for a token
 * without RBAC rights on AppRepositories, 404 for an AppRepository that does not exist. Success
 * is 200 `{"appRepository": {...}}` with `spec.resyncRequests` bumped.
 */

export interface FakeKubeappsApiOptions {
  /** Tokens Kubeapps accepts and that may refresh. */
  token: string;
  /** Tokens that authenticate but lack the RBAC grant: 403. */
  forbiddenTokens?: string[];
}

export interface KubeappsRefreshRequest {
  method: string;
  path: string;
  cluster?: string;
  namespace?: string;
  name?: string;
  authorization?: string;
  status: number;
}

const REFRESH_PATH = /^\/api\/v1\/clusters\/([^/]+)\/namespaces\/([^/]+)\/apprepositories\/([^/]+)\/refresh$/;

export class FakeKubeappsApi {
  readonly requests: KubeappsRefreshRequest[] = [];
  private readonly appRepositories = new Map<string, AppRepositoryObject>();
  private readonly queuedStatuses: number[] = [];
  private lastResourceVersion = 5000;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FakeKubeappsApiOptions,
  ) {}

  static async start(options: FakeKubeappsApiOptions): Promise<FakeKubeappsApi> {
    const server = http.createServer();
    const api = new FakeKubeappsApi(server, options);
    server.on('request', (req, res) => {
      api.handle(req, res).catch((err: unknown) => sendStatus(res, 500, String(err)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Refreshes Kubeapps carried out (200 answers). */
  get refreshes(): KubeappsRefreshRequest[] {
    return this.requests.filter((r) => r.status === 200);
  }

  addAppRepository(cluster: string, namespace: string, name: string): void {
    this.appRepositories.set(`${cluster}/${namespace}/${name}`, {
      apiVersion: APPREPOSITORY_API_VERSION,
      kind: 'AppRepository',
      metadata: { name, namespace, resourceVersion: String(++this.lastResourceVersion) },
      spec: { type: 'oci', url: `oci://registry.example.com/${name}`, resyncRequests: 0 },
    });
  }

  resyncRequests(cluster: string, namespace: string, name: string): number | undefined {
    return this.appRepositories.get(`${cluster}/${namespace}/${name}`)?.spec.resyncRequests;
  }

  /** Answer the next refreshes with these statuses (as Status objects), one each. */
  failNext(...statuses: number[]): void {
    this.queuedStatuses.push(...statuses);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    const record: KubeappsRefreshRequest = {
      method: req.method ?? '',
      path,
      authorization: req.headers.authorization,
      status: 0,
    };
    this.requests.push(record);
    const status = (code: number, message: string) => {
      record.status = code;
      sendStatus(res, code, message);
    };

    const match = REFRESH_PATH.exec(path);
    if (!match) return status(404, 'page not found');
    if (req.method !== 'POST') return status(405, `method ${req.method} not allowed`);
    const [cluster, namespace, name] = match.slice(1).map(decodeURIComponent);
    Object.assign(record, { cluster, namespace, name });

    const token = bearerToken(req);
    if (token === undefined || (token !== this.options.token && !this.options.forbiddenTokens?.includes(token))) {
      return status(401, 'Unauthorized');
    }
    if (token !== this.options.token) {
      return status(
        403,
        `apprepositories.kubeapps.com "${name}" is forbidden: User "kubeapps-user" cannot update resource ` +
          `"apprepositories" in API group "kubeapps.com" in the namespace "${namespace}"`,
      );
    }
    const forced = this.queuedStatuses.shift();
    if (forced !== undefined) return status(forced, `forced ${forced}`);

    const appRepository = this.appRepositories.get(`${cluster}/${namespace}/${name}`);
    if (!appRepository) return status(404, `apprepositories.kubeapps.com "${name}" not found`);
    appRepository.spec.resyncRequests = (appRepository.spec.resyncRequests ?? 0) + 1;
    appRepository.metadata.resourceVersion = String(++this.lastResourceVersion);
    record.status = 200;
    sendJson(res, 200, { appRepository });
  }
}
