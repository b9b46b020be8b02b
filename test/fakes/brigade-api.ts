import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Ajv, { type ErrorObject } from 'ajv';
import { readSchema } from '../helpers/corpus';

/**
 * How the fake answers the next create-event request.
 * - `created`: as Brigade does for a valid body and an authorised token (201, an EventList).
 * - `forbidden`, `bad-request`, `internal-error`: Brigade's own error answers (403, 400, 500).
 * - `too-many-requests`, `unavailable`: what a proxy or ingress in front of Brigade sends
 *   (429, 503 with Retry-After); Brigade itself never sends them.
 * - `hang`: takes the request and never answers. `drop-connection`: closes the socket unanswered.
 */
export type FakeBrigadeAnswer =
  | 'created'
  | 'forbidden'
  | 'bad-request'
  | 'internal-error'
  | 'too-many-requests'
  | 'unavailable'
  | 'hang'
  | 'drop-connection';

export interface FakeBrigadeApiOptions {
  /** The one service-account token the fake knows; any other gets 401. */
  token: string;
  /** The answer when none is queued. Default `created`. */
  answer?: FakeBrigadeAnswer;
  /** Projects that "subscribe" to every event: one EventList item each. */
  subscribedProjects?: string[];
  /** The `details` of a forced `bad-request` answer. */
  badRequestDetails?: string[];
  retryAfterSeconds?: number;
  /** Serve https with this key pair, as a real Brigade API server does, instead of plain http. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  authorization?: string;
  /** The W3C `traceparent` header the SDK's request carried, if any. */
  traceparent?: string;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** The status answered; absent for `hang` and `drop-connection`. */
  status?: number;
}

const API_VERSION = 'brigade.sh/v2';

/** Brigade's body validation of POST /v2/events: its own schemas, draft-07, every problem. */
export function createBrigadeEventValidator(): (body: unknown) => string[] {
  // Brigade's schemas use union types and patternProperties that ajv's strict mode flags;
  // they are Brigade's files verbatim, so strictness would test the schemas, not the event.
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(readSchema('brigade', 'common.json'));
  ajv.addSchema(readSchema('brigade', 'source-state.json'));
  const validate = ajv.compile(readSchema('brigade', 'event.json'));
  return (body) => (validate(body) ? [] : (validate.errors ?? []).map(describeSchemaError));
}

/** In the `field: description` form of Brigade's validator (gojsonschema's ResultError). */
function describeSchemaError(error: ErrorObject): string {
  const field = error.instancePath === '' ? '(root)' : error.instancePath.slice(1).replace(/\//g, '.');
  const property =
    error.keyword === 'additionalProperties'
      ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
      : '';
  return `${field}: ${error.message ?? error.keyword}${property}`;
}

/**
 * A stand-in for the Brigade API server on a loopback port, answering POST /v2/events with the
 * status codes and bodies Brigade's API server uses (v2/apiserver/internal/lib/restmachinery and
 * meta/errors.go): authentication first, then schema validation, then authorisation.
 */
export class FakeBrigadeApi {
  answer: FakeBrigadeAnswer;
  readonly received: ReceivedRequest[] = [];
  private readonly queued: FakeBrigadeAnswer[] = [];
  private readonly validate = createBrigadeEventValidator();
  /** TCP connections the fake accepted (TLS handshakes, when serving https). */
  connections = 0;
  private readonly server: http.Server;
  private baseURL?: string;

  constructor(private readonly options: FakeBrigadeApiOptions) {
    this.answer = options.answer ?? 'created';
    const handler: http.RequestListener = (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    };
    this.server = options.tls ? https.createServer({ ...options.tls }, handler) : http.createServer(handler);
    this.server.on(options.tls ? 'secureConnection' : 'connection', () => this.connections++);
  }

  /** Answers the next requests with `answers`, in order, then with `answer` again. */
  queue(...answers: FakeBrigadeAnswer[]): void {
    this.queued.push(...answers);
  }

  /** The bodies Brigade would have stored: those answered 201. */
  get createdEvents(): Record<string, unknown>[] {
    return this.received.filter((r) => r.status === 201).map((r) => r.body as Record<string, unknown>);
  }

  /**
   * Starts listening on 127.0.0.1 and returns the API address (`http(s)://127.0.0.1:<port>`).
   * `listenPort` brings a target that was "down" up at the address the gateway already uses.
   */
  async start(listenPort = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseURL = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this.baseURL;
  }

  get address(): string {
    if (!this.baseURL) throw new Error('FakeBrigadeApi is not started');
    return this.baseURL;
  }

  /** Stops listening and drops open connections, hung requests included. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = await readBody(req);
    const record: ReceivedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
      traceparent: req.headers.traceparent as string | undefined,
      body: parseJSON(text) ?? text,
    };
    this.received.push(record);
    const answer = this.queued.shift() ?? this.answer;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
      res.writeHead(status, { 'Content-Type': type, ...headers });
      res.end(payload);
    };
    const retryAfter = { 'Retry-After': String(this.options.retryAfterSeconds ?? 1) };

    // What a proxy in front of Brigade does, before Brigade sees the request.
    switch (answer) {
      case 'hang':
        return;
      case 'drop-connection':
        req.socket.destroy();
        return;
      case 'too-many-requests':
        return send(429, 'Too Many Requests\n', retryAfter);
      case 'unavailable':
        return send(503, 'Service Unavailable\n', retryAfter);
    }

    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v2/events') return send(404, '404 page not found\n');
    if (req.method !== 'POST') return send(405, '');

    const authProblem = this.authenticationProblem(req.headers.authorization);
    if (authProblem) {
      return send(401, { apiVersion: API_VERSION, kind: 'AuthenticationError', reason: authProblem });
    }

    const body = parseJSON(text);
    if (body === undefined) {
      return send(400, {
        apiVersion: API_VERSION,
        kind: 'BadRequestError',
        reason: 'Request body contains malformed JSON',
      });
    }
    const details = this.validate(body);
    if (details.length > 0) {
      return send(400, {
        apiVersion: API_VERSION,
        kind: 'BadRequestError',
        reason: 'Request body failed JSON validation',
        details,
      });
    }

    switch (answer) {
      case 'forbidden':
        return send(403, { apiVersion: API_VERSION, kind: 'AuthorizationError' });
      case 'bad-request':
        return send(400, {
          apiVersion: API_VERSION,
          kind: 'BadRequestError',
          reason: 'Request body failed JSON validation',
          details: this.options.badRequestDetails ?? [],
        });
      case 'internal-error':
        return send(500, { apiVersion: API_VERSION, kind: 'InternalServerError' });
    }

    const created = new Date().toISOString();
    const items = (this.options.subscribedProjects ?? ['example-project']).map((projectID) => ({
      ...(body as Record<string, unknown>),
      metadata: { id: randomUUID(), created },
      projectID,
      worker: { status: { phase: 'PENDING' } },
    }));
    return send(201, { apiVersion: API_VERSION, kind: 'EventList', metadata: {}, items });
  }

  /** Brigade's token filter: the reasons it gives, in the order it checks. */
  private authenticationProblem(header: string | undefined): string | undefined {
    if (!header) return '"Authorization" header is missing.';
    const [scheme, token] = header.split(/ (.*)/s, 2);
    if (scheme !== 'Bearer' || token === undefined) return '"Authorization" header is malformed.';
    if (token !== this.options.token) return 'Session not found. Please log in again.';
    return undefined;
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
