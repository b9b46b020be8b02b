import { Credentials } from '../../src/auth/credentials';
import type { GatewayConfig } from '../../src/config/types';
import type { AcceptResult, EventIntake } from '../../src/delivery/types';
import type { RegistryEvent } from '../../src/model/event';
import { Metrics } from '../../src/observability/metrics';
import { PROVIDERS } from '../../src/providers';
import type { RegistryProvider } from '../../src/providers/types';
import { createApp } from '../../src/server/app';
import { listen, type Listening } from './http';
import { memoryLogger, type MemoryLog } from './logger';

/** Records what the edge hands over; dedups on (source, id) like the store, or fails on demand. */
export class RecordingIntake implements EventIntake {
  /** Every event handed over, duplicates included. */
  readonly received: RegistryEvent[] = [];
  /** The events that were new. */
  readonly accepted: RegistryEvent[] = [];
  failWith?: Error;

  accept(events: RegistryEvent[]): Promise<AcceptResult[]> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.received.push(...events);
    return Promise.resolve(
      events.map((event) => {
        const duplicate = this.accepted.some((e) => e.source === event.source && e.id === event.id);
        if (!duplicate) this.accepted.push(event);
        return { event, duplicate };
      }),
    );
  }
}

export interface EdgeOptions {
  config: GatewayConfig;
  /** The gateway's own list unless a test brings its own. */
  providers?: readonly RegistryProvider[];
  /** Why the gateway is not ready; ready when absent or when it returns undefined. */
  notReadyReason?: () => string | undefined;
}

export interface Edge extends Listening {
  intake: RecordingIntake;
  log: MemoryLog;
}

/** The gateway's HTTP edge on a loopback port, as the wiring builds it, with a recording intake. */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const intake = new RecordingIntake();
  const log = memoryLogger();
  const app = createApp({
    config: options.config,
    credentials: new Credentials(options.config.tokens),
    providers: options.providers ?? PROVIDERS,
    intake,
    metrics: new Metrics(),
    logger: log.logger,
    readiness: { notReadyReason: options.notReadyReason ?? (() => undefined) },
  });
  return Object.assign(await listen(app), { intake, log });
}
