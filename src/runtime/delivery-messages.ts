import type { MetricSnapshot } from '../observability/metrics';
import type { Config } from './gateway-config';

/** What the main thread hands the delivery worker when it starts it. */
export interface WorkerInput {
  config: Config;
  /** The main logger's level at start, so both threads log alike. */
  logLevel: string;
  /** Whether the main thread started the OpenTelemetry SDK: the worker then starts its own. */
  tracing: boolean;
  /** The SQLite writer lock's memory (delivery/store/sqlite-writer-lock.ts), shared with the main thread's store. */
  writerLock?: SharedArrayBuffer;
}

/** Main thread to worker. */
export type ToWorker =
  | { type: 'wake'; emitters?: readonly string[] }
  | { type: 'metrics'; id: number }
  | { type: 'stop'; timeoutMs: number };

/** Worker to main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'log'; line: string }
  | { type: 'metrics'; id: number; snapshot: MetricSnapshot }
  | { type: 'stopped' };
