import { workerData } from 'node:worker_threads';
import { startTracing } from '../observability/tracing-sdk';
import type { WorkerInput } from './delivery-messages';

/**
 * Imported first by the delivery worker, as observability/tracing-start.ts is by the CLI: the SDK
 * registered in the main thread does not reach this thread, whose emitters make the attempt spans
 * and the requests that carry `traceparent`, so the worker starts its own (same service name,
 * its own exporter) before anything it instruments (http, axios, pg) is loaded. The main thread
 * decided whether to trace; the worker follows that decision rather than deciding again.
 */
if ((workerData as WorkerInput | undefined)?.tracing === true) startTracing();
