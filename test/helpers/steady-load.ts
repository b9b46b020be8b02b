import { post } from './http';
import { waitFor } from './wait';

/** What a registry sees of the gateway while faults come and go. */
export interface LoadTally {
  sent: number;
  /** Ids answered 2xx: each must reach the target, whatever happens afterwards. */
  acked: Set<string>;
  /** 503 with a Retry-After header: the sender is told to come back, nothing is stored. */
  unavailable: number;
  /** Anything else a sender should never see here: a 500, a 503 without Retry-After, a 4xx. */
  unexpected: { status: number; body: unknown; retryAfter?: string }[];
  /** No answer at all: connection refused or reset by a dead process, or no answer in time. */
  noAnswer: number;
  /** The longest a sender waited for an answer (ms): a registry gives up after 5 to 30 s. */
  slowestMs: number;
}

export interface LoadOptions {
  /** Base URLs of the replicas, asked each time: a replica may leave or join. */
  replicas: () => string[];
  token: string;
  prefix: string;
  /** Requests in flight at once, spread over the replicas. */
  workers?: number;
  /** Pause of each worker between requests, which sets the rate. */
  pauseMs?: number;
  /** How long a sender waits for an answer (registries wait 5 to 30 s). */
  timeoutMs?: number;
}

/** An ACR push with its own id, tag and digest, as ACR sends one per manifest PUT. */
export function acrPush(id: string, n: number): Record<string, unknown> {
  return {
    id,
    timestamp: new Date().toISOString(),
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${n.toString(16).padStart(64, '0')}`,
      repository: 'team/app',
      tag: id,
    },
    request: { id: `r-${id}`, host: 'myregistry.azurecr.io', method: 'PUT' },
  };
}

/**
 * Webhooks sent without pause by several workers, as a busy registry does, each to the next
 * replica in turn, as a Service spreads them; every answer is kept. It never retries: a sender
 * that got no 2xx has not handed the event over, so only the 2xx count as promises to keep.
 */
export class SteadyLoad {
  readonly tally: LoadTally = { sent: 0, acked: new Set(), unavailable: 0, unexpected: [], noAnswer: 0, slowestMs: 0 };
  private stopped = false;
  private workers: Promise<void>[] = [];
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): this {
    this.startedAt = Date.now();
    this.workers = Array.from({ length: this.options.workers ?? 4 }, (_, w) => this.work(w));
    return this;
  }

  async stop(): Promise<LoadTally> {
    this.stopped = true;
    await Promise.all(this.workers);
    this.stoppedAt ||= Date.now();
    return this.tally;
  }

  /** Requests sent per second, over the run so far. */
  get rate(): number {
    const ms = (this.stoppedAt || Date.now()) - this.startedAt;
    return ms > 0 ? (this.tally.sent * 1000) / ms : 0;
  }

  get seconds(): number {
    return ((this.stoppedAt || Date.now()) - this.startedAt) / 1000;
  }

  /** Resolves once `n` more events have been acknowledged than when it was called. */
  async acknowledged(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.tally.acked.size + n;
    await waitFor(`${n} more acks`, () => this.tally.acked.size >= target, timeoutMs);
  }

  private async work(worker: number): Promise<void> {
    const { replicas, token, prefix, pauseMs = 2, timeoutMs = 15_000 } = this.options;
    // Bounded: a test that goes wrong ends by itself.
    for (let i = 0; !this.stopped && this.tally.sent < 200_000; i++) {
      const n = this.tally.sent++;
      const id = `${prefix}-${worker}-${i}`;
      const urls = replicas();
      const url = urls[n % urls.length];
      const started = Date.now();
      try {
        const res = await post(
          `${url}/events/acr`,
          acrPush(id, n),
          { Authorization: `Bearer ${token}` },
          {
            timeout: timeoutMs,
          },
        );
        this.tally.slowestMs = Math.max(this.tally.slowestMs, Date.now() - started);
        const retryAfter = res.headers['retry-after'] as string | undefined;
        if (res.status === 202) this.tally.acked.add(id);
        else if (res.status === 503 && retryAfter) this.tally.unavailable++;
        else this.tally.unexpected.push({ status: res.status, body: res.data, retryAfter });
      } catch {
        this.tally.noAnswer++;
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
