import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerToken, readBody, sendJson, sendStatus } from './kubernetes-api';

/**
 * A Kubernetes API server on loopback serving Flux `ImageRepository` and Kargo `Warehouse`
 * objects as the real one does for the calls a GitOps refresher makes: group discovery
 * (`/apis/<group>`, an APIGroup naming the versions served), paged lists (`limit` and
 * `continue`, cluster-wide or per namespace), namespaces by label selector, and JSON merge
 * patches (RFC 7386, `application/merge-patch+json` only; other patch types get 415) that bump
 * the object's resourceVersion. Bearer token required (401); `forbid(verb, namespace)` answers
 * 403 with the API server's own wording.
 */

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec: Record<string, unknown>;
}

export interface PatchRecord {
  path: string;
  contentType?: string;
  body: unknown;
  resourceVersion: string;
}

interface Kind {
  group: string;
  plural: string;
  kind: string;
}

const KINDS: Kind[] = [
  { group: 'image.toolkit.fluxcd.io', plural: 'imagerepositories', kind: 'ImageRepository' },
  { group: 'kargo.akuity.io', plural: 'warehouses', kind: 'Warehouse' },
];

const COLLECTION = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

export class FakeGitOpsApi {
  readonly patches: PatchRecord[] = [];
  readonly requests: { method: string; path: string; status: number }[] = [];
  /** Served versions per group; tests change them to exercise discovery. */
  readonly versions = new Map<string, string[]>([
    ['image.toolkit.fluxcd.io', ['v1', 'v1beta2']],
    ['kargo.akuity.io', ['v1alpha1']],
  ]);
  readonly namespaceLabels = new Map<string, Record<string, string>>();
  private readonly objects = new Map<string, StoredObject>();
  private readonly forbidden = new Set<string>();
  private lastResourceVersion = 5000;
  /** Items per page when the client asks for more (exercises `continue`). */
  pageSize = 2;

  private constructor(
    private readonly server: http.Server,
    private readonly token: string,
  ) {}

  static async start(token: string): Promise<FakeGitOpsApi> {
    const server = http.createServer();
    const api = new FakeGitOpsApi(server, token);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      api.handle(req, res).catch((err: unknown) => sendStatus(res, 500, String(err)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  add(kind: 'ImageRepository' | 'Warehouse', namespace: string, name: string, spec: Record<string, unknown>): void {
    const { group } = KINDS.find((k) => k.kind === kind)!;
    const version = this.versions.get(group)![0];
    if (!this.namespaceLabels.has(namespace)) this.namespaceLabels.set(namespace, {});
    this.objects.set(this.key(kind, namespace, name), {
      apiVersion: `${group}/${version}`,
      kind,
      metadata: { name, namespace, resourceVersion: this.nextVersion(), uid: `uid-${namespace}-${name}` },
      spec,
    });
  }

  object(kind: string, namespace: string, name: string): StoredObject | undefined {
    const found = this.objects.get(this.key(kind, namespace, name));
    return found && structuredClone(found);
  }

  /** Patches made to one object, in order. */
  patchesOf(kind: 'ImageRepository' | 'Warehouse', namespace: string, name: string): PatchRecord[] {
    const { plural } = KINDS.find((k) => k.kind === kind)!;
    return this.patches.filter((p) => p.path.endsWith(`/namespaces/${namespace}/${plural}/${name}`));
  }

  forbid(verb: 'list' | 'patch', namespace = '*'): void {
    this.forbidden.add(`${verb} ${namespace}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private key(kind: string, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  private nextVersion(): string {
    this.lastResourceVersion += 1;
    return String(this.lastResourceVersion);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const record = { method: req.method ?? '', path: url.pathname, status: 0 };
    this.requests.push(record);
    const status = (code: number, message: string) => {
      record.status = code;
      sendStatus(res, code, message);
    };
    const json = (body: unknown) => {
      record.status = 200;
      sendJson(res, 200, body);
    };
    if (bearerToken(req) !== this.token) return status(401, 'Unauthorized');

    if (url.pathname === '/api/v1/namespaces' && req.method === 'GET') {
      return json({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: this.namespaces(url) });
    }
    const group = /^\/apis\/([^/]+)$/.exec(url.pathname)?.[1];
    if (group) {
      const served = this.versions.get(group);
      if (!served || served.length === 0) return status(404, 'the server could not find the requested resource');
      const versions = served.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
      return json({ kind: 'APIGroup', apiVersion: 'v1', name: group, versions, preferredVersion: versions[0] });
    }
    const match = COLLECTION.exec(url.pathname);
    const kind = match && KINDS.find((k) => k.group === match[1] && k.plural === match[4]);
    if (!match || !kind || !this.versions.get(kind.group)?.includes(match[2])) {
      return status(404, 'the server could not find the requested resource');
    }
    const [, , version, namespace, , name] = match;
    const verb = req.method === 'PATCH' ? 'patch' : name ? 'get' : 'list';
    if (this.forbidden.has(`${verb} ${namespace ?? '*'}`) || this.forbidden.has(`${verb} *`)) {
      const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
      return status(
        403,
        `${kind.plural}.${kind.group}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:registry-gateway:registry-gateway" ` +
          `cannot ${verb} resource "${kind.plural}" in API group "${kind.group}"${where}`,
      );
    }
    if (verb === 'list') return json(this.list(kind, version, namespace, url));
    if (!namespace || !name) return status(405, 'method not allowed');
    const stored = this.objects.get(this.key(kind.kind, namespace, name));
    if (!stored) return status(404, `${kind.plural}.${kind.group} "${name}" not found`);
    if (verb === 'get') return json(this.served(stored, version));
    if (req.headers['content-type'] !== 'application/merge-patch+json') {
      return status(
        415,
        `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`,
      );
    }
    const patch = JSON.parse(text) as { metadata?: { annotations?: Record<string, string> } };
    stored.metadata.annotations = { ...stored.metadata.annotations, ...patch.metadata?.annotations };
    stored.metadata.resourceVersion = this.nextVersion();
    this.patches.push({
      path: url.pathname,
      contentType: req.headers['content-type'],
      body: patch,
      resourceVersion: stored.metadata.resourceVersion,
    });
    return json(this.served(stored, version));
  }

  private served(object: StoredObject, version: string): StoredObject {
    const copy = structuredClone(object);
    copy.apiVersion = `${copy.apiVersion.split('/')[0]}/${version}`;
    return copy;
  }

  private namespaces(url: URL) {
    const [labelKey, labelValue] = (url.searchParams.get('labelSelector') ?? '').split('=');
    return [...this.namespaceLabels]
      .filter(([, labels]) => !labelKey || labels[labelKey] === labelValue)
      .map(([name, labels]) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  }

  /** One page: `continue` is the index of the next item, as opaque to the client as the real one. */
  private list(kind: Kind, version: string, namespace: string | undefined, url: URL) {
    const all = [...this.objects.values()].filter(
      (o) => o.kind === kind.kind && (!namespace || o.metadata.namespace === namespace),
    );
    const start = Number(Buffer.from(url.searchParams.get('continue') ?? '', 'base64').toString() || '0');
    const limit = Math.min(Number(url.searchParams.get('limit') ?? all.length) || all.length, this.pageSize);
    const items = all.slice(start, start + limit).map((o) => this.served(o, version));
    const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64') : undefined;
    return {
      kind: `${kind.kind}List`,
      apiVersion: `${kind.group}/${version}`,
      metadata: { resourceVersion: String(this.lastResourceVersion), ...(next ? { continue: next } : {}) },
      items,
    };
  }
}
