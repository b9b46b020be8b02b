import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';

/**
 * The spans the gateway makes itself, through the OpenTelemetry API only. With tracing off no
 * SDK is registered (tracing-start.ts), so every call here meets the API's no-op tracer and
 * propagator: no span is recorded, no context is stored with an event, nothing is exported.
 */
const tracer = trace.getTracer('registry-gateway');

/** The W3C trace context of the span that accepted an event, kept with the event row. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** The active span's context as W3C headers; undefined with tracing off or nothing sampled in. */
export function currentTraceContext(): TraceContext | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate
    ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate }
    : { traceparent: carrier.traceparent };
}

/** Runs `work` in a span of its own (active within it), ended with the outcome of `work`. */
export function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => T): T {
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    let result: T;
    try {
      result = work(span);
    } catch (err) {
      endFailed(span, err);
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          endFailed(span, err);
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

function endFailed(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/** What the attempt span says about the event and its target. */
export interface AttemptDescription {
  emitter: string;
  eventId: string;
  eventSource: string;
  eventType: string;
  attempt: number;
  probe: boolean;
  /** The context the event was accepted in, as stored with it. */
  trace?: TraceContext;
}

/**
 * One delivery attempt as a client span. It continues the trace the event was accepted in, read
 * back from the store (so a restart, another replica or a replay continues it too), and links to
 * that span as the CloudEvents tracing extension has a consumer do. Active around `send`, so the
 * HTTP instrumentation puts this hop's `traceparent` on every request the emitter makes.
 */
export function inAttemptSpan<T>(attempt: AttemptDescription, send: () => Promise<T>): Promise<T> {
  const stored = attempt.trace ? propagation.extract(ROOT_CONTEXT, { ...attempt.trace }) : ROOT_CONTEXT;
  const origin = trace.getSpanContext(stored);
  const span = tracer.startSpan(
    `send ${attempt.emitter}`,
    {
      kind: SpanKind.CLIENT,
      links: origin ? [{ context: origin }] : [],
      attributes: {
        'cloudevents.event_id': attempt.eventId,
        'cloudevents.event_source': attempt.eventSource,
        'cloudevents.event_type': attempt.eventType,
        'messaging.operation.name': 'send',
        'messaging.operation.type': 'send',
        'messaging.destination.name': attempt.emitter,
        'registry_gateway.attempt': attempt.attempt,
        'registry_gateway.probe': attempt.probe,
      },
    },
    stored,
  );
  return context.with(trace.setSpan(stored, span), () =>
    Promise.resolve()
      .then(send)
      .then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          endFailed(span, err);
          throw err;
        },
      ),
  );
}
