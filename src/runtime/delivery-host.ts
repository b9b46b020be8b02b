import type { Logger } from 'pino';
import { Dispatcher } from '../delivery/dispatcher';
import { PartReleaser } from '../delivery/part-releaser';
import { ManifestReader, withPlatforms } from '../delivery/platforms';
import type { RouteTarget } from '../delivery/routing';
import type { DeliveryStore } from '../delivery/store';
import type { Emitter } from '../emitters/types';
import type { Metrics } from '../observability/metrics';
import { createEmitters } from './emitter-set';
import type { Config } from './gateway-config';

/** What the HTTP side needs of delivery, wherever it runs: a nudge after new rows, and a stop. */
export interface DeliveryRunner {
  /** Rows were stored or re-queued for these emitters (absent: any): look now, not at the next poll. */
  notify(emitters?: readonly string[]): void;
  /** Resolves once delivery runs (a worker thread takes a second or two to load). */
  ready(): Promise<void>;
  /** Lets attempts in flight finish (up to `timeoutMs`), then closes the emitters. */
  stop(timeoutMs: number): Promise<void>;
}

/** The emitters of `config` as delivery uses them: with platforms read from the registry where asked. */
export function deliveryEmitters(config: Config, store: DeliveryStore, logger: Logger): (Emitter & RouteTarget)[] {
  const reader = new ManifestReader(config.collapse.manifests, logger.child({ component: 'manifests' }));
  // Only with registries to read from: otherwise every delivery would pass through for nothing.
  return createEmitters(config, logger, store.sharedWindows).map((e) =>
    config.collapse.manifests.registries.length > 0 ? withPlatforms(e, reader) : e,
  );
}

/**
 * Delivery in this thread: the lanes of every emitter and the releaser of held parts, over the
 * store. The worker thread runs one of these too (delivery-worker.ts), over its own connection.
 */
export class DeliveryHost implements DeliveryRunner {
  private constructor(
    private readonly dispatcher: Dispatcher,
    private readonly releaser: PartReleaser,
    private readonly emitters: readonly Emitter[],
  ) {}

  static start(config: Config, store: DeliveryStore, metrics: Metrics, logger: Logger): DeliveryHost {
    const emitters = deliveryEmitters(config, store, logger);
    const dispatcher = new Dispatcher(store, emitters, config.delivery, {
      logger: logger.child({ component: 'dispatcher' }),
      metrics,
    });
    const releaser = new PartReleaser(store, () => dispatcher.notify(), logger.child({ component: 'assembly' }));
    dispatcher.start();
    releaser.start();
    return new DeliveryHost(dispatcher, releaser, emitters);
  }

  notify(emitters?: readonly string[]): void {
    this.dispatcher.notify(emitters);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  async stop(timeoutMs: number): Promise<void> {
    await this.releaser.stop();
    await this.dispatcher.stop(timeoutMs);
    await Promise.all(this.emitters.map((e) => e.close?.() ?? Promise.resolve()));
  }
}
