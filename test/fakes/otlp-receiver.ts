import { gunzipSync } from 'node:zlib';
import { listen, type Listening } from '../helpers/http';

/** One span as an OTLP/HTTP JSON export carries it (ids in hex, as OTLP/JSON writes them). */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  /** The `service.name` of the resource that exported it. */
  service: string;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

function attributeMap(list: KeyValue[] | undefined): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    // An AnyValue holds exactly one of stringValue, intValue, boolValue, doubleValue...
    map[key] = Object.values(value)[0];
  }
  return map;
}

/**
 * A stand-in for an OpenTelemetry collector's OTLP/HTTP receiver (`POST /v1/traces`), JSON
 * encoding (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), gzip or not. It keeps every request it
 * got, whatever its body, so a test can assert that nothing was sent at all.
 */
export class FakeOtlpReceiver {
  readonly requests: { path: string; contentType?: string }[] = [];
  readonly spans: ExportedSpan[] = [];

  private constructor(private readonly listening: Listening) {}

  static async start(): Promise<FakeOtlpReceiver> {
    let receiver: FakeOtlpReceiver | undefined;
    const listening = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver!.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
        try {
          const raw = Buffer.concat(chunks);
          const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
          receiver!.take(JSON.parse(text));
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
    receiver = new FakeOtlpReceiver(listening);
    return receiver;
  }

  /** The value for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  get endpoint(): string {
    return this.listening.url;
  }

  close(): Promise<void> {
    return this.listening.close();
  }

  private take(body: {
    resourceSpans?: {
      resource?: { attributes?: KeyValue[] };
      scopeSpans?: { spans?: Record<string, unknown>[] }[];
    }[];
  }): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = String(attributeMap(resourceSpans.resource?.attributes)['service.name']);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: span.traceId as string,
            spanId: span.spanId as string,
            parentSpanId: (span.parentSpanId as string | undefined) || undefined,
            name: span.name as string,
            kind: span.kind as number,
            attributes: attributeMap(span.attributes as KeyValue[] | undefined),
            links: ((span.links as { traceId: string; spanId: string }[] | undefined) ?? []).map((l) => ({
              traceId: l.traceId,
              spanId: l.spanId,
            })),
            service,
          });
        }
      }
    }
  }
}
