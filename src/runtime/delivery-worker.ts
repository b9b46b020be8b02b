/**
 * The delivery worker thread's entry (started by delivery-thread.ts). It opens its own connection
 * to the store and runs the lanes, emitters and held-part releaser there, so attempts, claims,
 * marks and the emitters' HTTP clients never take the webhook listener's event loop.
 */
// First: the SDK, when tracing is on, must hook http and pg before anything below loads them.
import './worker-tracing-start';
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../delivery/store';
import { createLogger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { stopTracing } from '../observability/tracing-sdk';
import { DeliveryHost } from './delivery-host';
import type { FromWorker, ToWorker, WorkerInput } from './delivery-messages';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

async function main(): Promise<void> {
  const { config, logLevel, writerLock } = workerData as WorkerInput;
  // Lines go to the main thread's logger, which writes them where it writes its own.
  const logger = createLogger(logLevel, { write: (line: string) => post({ type: 'log', line }) }).child({
    thread: 'delivery',
  });
  // As in the main thread (cli/serve.ts): logged, not fatal.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  const metrics = new Metrics({ processMetrics: false });
  const store = await openStore(config.delivery, {
    metrics,
    logger: logger.child({ component: 'store' }),
    collapse: config.collapse,
    // The dispatcher's prune, here, cuts the request log the listener's thread writes.
    requestLog: config.requests,
    writerLock,
    deliveryOnly: true,
  });
  // This thread's pool and the leases it holds; the scrape adds them to the main thread's.
  metrics.storeStats = () => store.stats();
  const host = DeliveryHost.start(config, store, metrics, logger);
  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'wake':
        host.notify(message.emitters);
        return;
      case 'metrics':
        void metrics.registry
          .getMetricsAsJSON()
          .then((snapshot) => post({ type: 'metrics', id: message.id, snapshot }));
        return;
      case 'stop':
        void host
          .stop(message.timeoutMs)
          .then(() => store.close())
          // The spans of this thread's last attempts are exported before the thread goes.
          .then(() => stopTracing())
          .catch((err: unknown) => logger.error({ err }, 'delivery worker stopped uncleanly'))
          .finally(() => post({ type: 'stopped' }));
        return;
    }
  });
  post({ type: 'ready' });
}

main().catch((err: unknown) => {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  // Ends this thread only; the main thread starts another. The pause lets the message go first.
  setTimeout(() => process.exit(1), 100);
});
