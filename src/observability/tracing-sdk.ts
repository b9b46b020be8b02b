/** The SDK's one instance in this process, once started. */
let sdk: { shutdown(): Promise<void> } | undefined;

/** Instrumented inbound paths that are no request anyone follows: probes and scrapes. */
const UNTRACED_PATHS = ['/healthz', '/readyz', '/livez', '/metrics'];

/**
 * Starts the OpenTelemetry Node SDK: exporter, sampler, resource and propagators from the
 * standard OTEL_* variables; instrumentations for http (inbound requests, and the `traceparent`
 * header on every request to a target), express and pg. Metrics stay with prom-client and logs
 * with pino, so the SDK's own metric and log exporters are off unless asked for by name.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): void {
  if (sdk) return;
  env.OTEL_SERVICE_NAME ??= 'registry-gateway';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  // Required, not imported: with tracing off (the default) the SDK is never loaded at all.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } =
    require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const started = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.includes((req.url ?? '').split('?')[0]),
        // A request made outside any span (a JWKS refresh, a sink lookup between deliveries) is
        // no part of an event's trace and would be a trace of its own each time.
        requireParentforOutgoingSpans: true,
      }),
      // Route and handler spans; the middleware (headers, body reading, auth) would add a dozen
      // spans to every request and say little that the request span does not.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // The dispatcher polls the store; only queries made within a traced request or attempt count.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  started.start();
  sdk = started;
}

/** Whether this thread runs the SDK: the delivery worker thread starts its own when it does. */
export function tracingStarted(): boolean {
  return sdk !== undefined;
}

/** Exports the spans still buffered and stops the SDK; nothing to do with tracing off. */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}
