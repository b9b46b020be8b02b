import path from 'node:path';
import { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { Metrics, MetricSnapshot } from '../observability/metrics';
import { tracingStarted } from '../observability/tracing-sdk';
import { WriterLock } from '../delivery/store/sqlite-writer-lock';
import type { DeliveryRunner } from './delivery-host';
import type { FromWorker, ToWorker, WorkerInput } from './delivery-messages';
import type { Config } from './gateway-config';

/** How long a metrics request waits for the worker before the scrape goes on without it. */
const METRICS_TIMEOUT_MS = 2000;
/** Pause before a worker that died is started again, so a crash loop does not spin. */
const RESTART_DELAY_MS = 1000;

/**
 * Delivery in a worker thread of its own (delivery-worker.ts). The webhook listener's event loop
 * keeps only what an acknowledgement needs (parse, authenticate, the group commit); the lanes'
 * claims, marks and attempts, and the emitters' HTTP, run on the worker's loop on another core.
 * The two share nothing but the store, through separate connections, and a message port that
 * carries wake-ups, log lines and metrics. A worker that dies is started again: every row it had
 * in flight is still pending in the store, so at-least-once holds.
 */
export class DeliveryThread implements DeliveryRunner {
  private worker?: Worker;
  private started: Promise<void> = Promise.resolve();
  private stopping = false;
  private nextMetricsId = 0;
  private readonly metricsWaiting = new Map<number, (snapshot: MetricSnapshot) => void>();

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly writerLock?: SharedArrayBuffer,
  ) {}

  /**
   * Starts the worker; `ready()` says when it delivers. A wake-up posted before the worker listens
   * is queued on the port, and what is accepted meanwhile waits in the store.
   */
  static start(config: Config, metrics: Metrics, logger: Logger, writerLock?: SharedArrayBuffer): DeliveryThread {
    const thread = new DeliveryThread(config, logger, writerLock);
    thread.spawn();
    metrics.addSource(() => thread.metrics());
    return thread;
  }

  /** Resolves once the current worker's store is open and its lanes run. */
  ready(): Promise<void> {
    return this.started;
  }

  notify(emitters?: readonly string[]): void {
    this.send({ type: 'wake', emitters });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
    const stopped = new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.on('message', (message: FromWorker) => message.type === 'stopped' && resolve());
    });
    // The worker waits up to timeoutMs for its attempts; past that and a margin it is cut short.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 5000).unref());
    this.send({ type: 'stop', timeoutMs });
    await Promise.race([stopped, deadline]);
    await worker.terminate();
  }

  private metrics(): Promise<MetricSnapshot> {
    const id = this.nextMetricsId++;
    return new Promise<MetricSnapshot>((resolve) => {
      const timer = setTimeout(() => {
        this.metricsWaiting.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      this.metricsWaiting.set(id, (snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
      this.send({ type: 'metrics', id });
    });
  }

  private send(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private spawn(): void {
    const input: WorkerInput = {
      config: this.config,
      logLevel: this.logger.level,
      tracing: tracingStarted(),
      writerLock: this.writerLock,
    };
    const worker = startWorker(input);
    this.worker = worker;
    const stream = (this.logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
    let failure: string | undefined;
    this.started = new Promise<void>((resolve) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'log') stream.write(message.line);
        else if (message.type === 'metrics') this.metricsWaiting.get(message.id)?.(message.snapshot);
        else if (message.type === 'ready') resolve();
        else if (message.type === 'failed') failure = message.message;
      });
    });
    worker.on('error', (err) => this.logger.error({ err }, 'the delivery worker failed'));
    const workerThreadId = worker.threadId;
    worker.on('exit', (code) => {
      // A worker cut short in the middle of a write never released the store's writer lock.
      if (this.writerLock) WriterLock.abandon(this.writerLock, workerThreadId);
      if (this.stopping) return;
      this.logger.error(
        { code, reason: failure },
        'the delivery worker exited; starting it again in a second (pending deliveries are kept)',
      );
      setTimeout(() => this.stopping || this.spawn(), RESTART_DELAY_MS).unref();
    });
  }
}

/**
 * The compiled gateway runs delivery-worker.js; tests and `tsx` run the TypeScript source, which
 * a worker can only load through tsx's require hook (a development dependency, absent from the
 * image and never needed there).
 */
function startWorker(input: WorkerInput): Worker {
  const source = __filename.endsWith('.ts');
  const entry = path.join(__dirname, source ? 'delivery-worker.ts' : 'delivery-worker.js');
  const bootstrap = `${source ? "require('tsx/cjs');" : ''}require(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { eval: true, workerData: input });
}
