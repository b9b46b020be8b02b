import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readSchema } from '../helpers/corpus';

/**
 * A Knative Broker ingress on loopback, refusing what the real one refuses (knative/eventing
 * pkg/broker/ingress): only POST (405 otherwise), only `/<namespace>/<broker>` (404 for an unknown
 * broker or `/`, 400 for another path shape), 400 for a message that is not a valid CloudEvent,
 * 202 with an empty body once the event is taken. Structured bodies are checked against the
 * CloudEvents JSON schema of the shared corpus.
 */

export interface ReceivedCloudEvent {
  mode: 'binary' | 'structured';
  /** Every attribute (extensions included), header values percent-decoded. */
  attributes: Record<string, string>;
  /** Parsed when the content type is JSON, else the raw text. */
  data: unknown;
  contentType: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface BrokerRequest {
  method: string;
  path: string;
  status: number;
  /** Why the broker refused it (400s), for test failure messages. */
  reason?: string;
  /** Client port: the same port on two requests means the connection was kept alive. */
  remotePort?: number;
  event?: ReceivedCloudEvent;
}

export interface FakeKnativeBrokerOptions {
  namespace?: string;
  broker?: string;
  /** Milliseconds to wait before answering (timeouts). */
  delayMs?: number;
}

const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
]);
const JSON_FORMAT_KEYS = new Set([...CORE_ATTRIBUTES, 'data', 'data_base64']);
const EXTENSION_NAME = /^[a-z0-9]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

class InvalidEvent extends Error {}

export class FakeKnativeBroker {
  /** Every request, in arrival order. */
  readonly requests: BrokerRequest[] = [];
  private forcedStatus: number | undefined;
  private forcedBody: string | undefined;
  private readonly queuedStatuses: number[] = [];
  private readonly validateStructured: ValidateFunction;

  private constructor(
    private readonly server: http.Server,
    private readonly options: Required<FakeKnativeBrokerOptions>,
  ) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    this.validateStructured = ajv.compile(readSchema('cloudevents', 'cloudevents.json'));
  }

  static async start(options: FakeKnativeBrokerOptions = {}): Promise<FakeKnativeBroker> {
    const server = http.createServer();
    const broker = new FakeKnativeBroker(server, {
      namespace: options.namespace ?? 'default',
      broker: options.broker ?? 'default',
      delayMs: options.delayMs ?? 0,
    });
    server.on('request', (req, res) => broker.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return broker;
  }

  get origin(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The Broker's `status.address.url`. */
  get url(): string {
    return `${this.origin}/${this.options.namespace}/${this.options.broker}`;
  }

  /** Events the broker took (answered 2xx). */
  get received(): ReceivedCloudEvent[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300 && r.event).map((r) => r.event!);
  }

  /**
   * Answer every valid event with this status from now on (e.g. 500, 503, 429, 404), with `body`
   * as text when given (what a proxy in front of the broker may say); undefined restores 202.
   */
  respondWith(status: number | undefined, body?: string): void {
    this.forcedStatus = status;
    this.forcedBody = status === undefined ? undefined : body;
  }

  /** Answer the next valid events with these statuses, one each, then go back to normal. */
  failNext(...statuses: number[]): void {
    this.queuedStatuses.push(...statuses);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = () => this.answer(req, Buffer.concat(chunks).toString('utf8'), res);
      if (this.options.delayMs > 0) setTimeout(answer, this.options.delayMs);
      else answer();
    });
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const record: BrokerRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 202,
      remotePort: req.socket.remotePort,
    };
    this.requests.push(record);
    const reply = (status: number, reason?: string, text = '') => {
      record.status = status;
      if (reason) record.reason = reason;
      res.setHeader('Allow', 'POST, OPTIONS');
      const type: Record<string, string> = text ? { 'Content-Type': 'text/html' } : {};
      res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(text)), ...type });
      res.end(text);
    };

    if (req.method === 'OPTIONS') return reply(200);
    if (req.method !== 'POST') return reply(405);
    const path = (req.url ?? '/').split('?')[0].replace(/\/$/, '');
    const segments = path.split('/');
    if (path === '') return reply(404);
    if (segments.length !== 3) return reply(400, `malformed broker path ${req.url}`);
    if (segments[1] !== this.options.namespace || segments[2] !== this.options.broker) return reply(404);

    try {
      record.event = readCloudEvent(req.headers, body, this.validateStructured);
    } catch (err) {
      if (err instanceof InvalidEvent) return reply(400, err.message);
      throw err;
    }
    const queued = this.queuedStatuses.shift();
    if (queued !== undefined) return reply(queued);
    reply(this.forcedStatus ?? 202, undefined, this.forcedBody);
  }
}

function readCloudEvent(
  headers: http.IncomingHttpHeaders,
  body: string,
  validateStructured: ValidateFunction,
): ReceivedCloudEvent {
  const contentType = headers['content-type'];
  const mediaType = contentType?.split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/cloudevents+json') return readStructured(headers, body, validateStructured);
  if (mediaType === 'application/cloudevents-batch+json') throw new InvalidEvent('batched events are not accepted');
  if (headers['ce-specversion'] === undefined) throw new InvalidEvent('unknown message encoding: no ce-specversion');
  return readBinary(headers, body, contentType, mediaType);
}

function readBinary(
  headers: http.IncomingHttpHeaders,
  body: string,
  contentType: string | undefined,
  mediaType: string | undefined,
): ReceivedCloudEvent {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-')) continue;
    if (Array.isArray(value) || value === undefined) throw new InvalidEvent(`header ${name} repeated`);
    try {
      attributes[name.slice(3)] = decodeURIComponent(value);
    } catch {
      throw new InvalidEvent(`header ${name} is not valid percent-encoding: ${value}`);
    }
  }
  if (contentType !== undefined) attributes.datacontenttype = contentType;
  checkAttributes(attributes);
  let data: unknown = body;
  if (mediaType === 'application/json' && body !== '') {
    try {
      data = JSON.parse(body);
    } catch {
      data = body;
    }
  }
  return { mode: 'binary', attributes, data, contentType, headers, body };
}

function readStructured(
  headers: http.IncomingHttpHeaders,
  body: string,
  validateStructured: ValidateFunction,
): ReceivedCloudEvent {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new InvalidEvent('structured body is not JSON');
  }
  if (!validateStructured(event)) {
    const problems = (validateStructured.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new InvalidEvent(`structured event fails the CloudEvents schema: ${problems.join('; ')}`);
  }
  const json = event as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === 'data' || name === 'data_base64') continue;
    if (value === null) continue;
    if (!JSON_FORMAT_KEYS.has(name) && typeof value === 'object') {
      throw new InvalidEvent(`extension ${name} must be a scalar`);
    }
    attributes[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  checkAttributes(attributes);
  return {
    mode: 'structured',
    attributes,
    data: json.data,
    contentType: headers['content-type'],
    headers,
    body,
  };
}

/** What the Go SDK's Event.Validate checks for a 1.0 event, which the ingress runs on everything. */
function checkAttributes(attributes: Record<string, string>): void {
  if (attributes.specversion !== '1.0') {
    throw new InvalidEvent(`specversion ${JSON.stringify(attributes.specversion)} is not 1.0`);
  }
  for (const required of ['id', 'source', 'type']) {
    if (!attributes[required]) throw new InvalidEvent(`${required}: REQUIRED but missing or empty`);
  }
  if ('subject' in attributes && attributes.subject === '')
    throw new InvalidEvent('subject: if present, MUST be non-empty');
  if ('time' in attributes && !RFC3339.test(attributes.time)) {
    throw new InvalidEvent(`time: ${attributes.time} is not RFC 3339`);
  }
  for (const name of Object.keys(attributes)) {
    if (!CORE_ATTRIBUTES.has(name) && !EXTENSION_NAME.test(name)) {
      throw new InvalidEvent(`extension name ${JSON.stringify(name)} must be [a-z0-9]`);
    }
  }
}
