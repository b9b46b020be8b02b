import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry's series as `getMetricsAsJSON` gives them: what another thread sends across. */
export type MetricSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * Every Prometheus series the gateway exports. Labels are bounded sets only (provider, type,
 * emitter, outcome): never a repository, tag, id or token, which would grow without limit.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = this.counter(
    'registry_gateway_requests_total',
    'Webhook requests by provider (or "unknown" before detection) and outcome',
    ['provider', 'outcome'],
  );

  readonly events = this.counter(
    'registry_gateway_events_total',
    'Normalised events by provider, type and outcome (accepted, duplicate, ignored, rejected)',
    ['provider', 'type', 'outcome'],
  );

  readonly deliveries = this.counter(
    'registry_gateway_deliveries_total',
    'Delivery attempts by emitter and outcome (succeeded, retried, dead_lettered)',
    ['emitter', 'outcome'],
  );

  readonly deliveryLatency = this.histogram(
    'registry_gateway_delivery_latency_seconds',
    'Time from acceptance to successful delivery, by emitter (includes retries)',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800, 7200],
    ['emitter'],
  );

  readonly attemptDuration = this.histogram(
    'registry_gateway_delivery_attempt_seconds',
    'Duration of one delivery attempt to a target, by emitter',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ['emitter'],
  );

  readonly commitDuration = this.histogram(
    'registry_gateway_store_commit_seconds',
    'Duration of one store commit (a group of accepted requests), including fsync',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );

  readonly commitBatchSize = this.histogram(
    'registry_gateway_store_commit_batch_size',
    'Accept requests grouped into one store commit',
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );

  readonly parts = this.counter(
    'registry_gateway_push_parts_total',
    'Pushes by digest (parts of a push): held counts every part taken in; absorbed (into a tagged push), released (an orphan delivered on its own) and dropped (an orphan) how each was settled',
    ['outcome'],
  );

  readonly leaseTakeovers = this.counter(
    'registry_gateway_store_lease_takeovers_total',
    "Deliveries this replica took over because another replica's lease lapsed (it died or stalled)",
  );

  readonly staleMarks = this.counter(
    'registry_gateway_store_stale_marks_total',
    'Attempt outcomes not recorded because the row had moved on: its lease lapsed and was taken over, or an operator dropped it',
  );

  readonly targetState = new Gauge({
    name: 'registry_gateway_target_state',
    help: "Each target's circuit: 0 = closed (delivering), 1 = open (down: paused, probed with one delivery at a time)",
    labelNames: ['emitter'] as const,
    registers: [this.registry],
  });

  readonly targetProbes = new Counter({
    name: 'registry_gateway_target_probes_total',
    help: 'Probes of a target whose circuit is open, by outcome (answered = the target is back, failed)',
    labelNames: ['emitter', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly circuitOpened = new Counter({
    name: 'registry_gateway_target_circuit_opened_total',
    help: 'Times a target was judged down and its deliveries paused',
    labelNames: ['emitter'] as const,
    registers: [this.registry],
  });

  readonly pending: Gauge<'emitter'>;
  readonly deadLettered: Gauge<'emitter'>;

  /**
   * Read on every scrape, so the gauges show the store's truth even when another process
   * (`deliveries replay`, another replica) changed it.
   */
  deliveryCounts?: () => Promise<{ emitter: string; pending: number; dead: number }[]>;
  /** The database pool and this replica's leases, where the store has them (PostgreSQL). */
  storeStats?: () => { pool?: { total: number; idle: number; waiting: number }; leasesHeld?: number };

  /** Series kept by another thread of this process (delivery's worker), merged into every scrape. */
  private readonly others: (() => Promise<MetricSnapshot>)[] = [];

  /**
   * `processMetrics: false` in a worker thread: the process's CPU, memory and event loop are
   * reported once, by the main thread.
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'registry_gateway_' });
    const counts = async () => (this.deliveryCounts ? this.deliveryCounts() : []);
    const read = (field: 'pending' | 'dead') =>
      async function (this: Gauge<'emitter'>) {
        // A scrape while the database is down shows no numbers rather than failing /metrics.
        const rows = await counts().catch(() => []);
        this.reset();
        for (const row of rows) this.set({ emitter: row.emitter }, row[field]);
      };
    this.pending = new Gauge({
      name: 'registry_gateway_deliveries_pending',
      help: 'Deliveries waiting for a first or further attempt, by emitter',
      labelNames: ['emitter'] as const,
      registers: [this.registry],
      collect: read('pending'),
    });
    this.deadLettered = new Gauge({
      name: 'registry_gateway_deliveries_dead_lettered',
      help: 'Deliveries in the dead-letter state (refused for good or out of attempts), by emitter',
      labelNames: ['emitter'] as const,
      registers: [this.registry],
      collect: read('dead'),
    });
    const stats = () => this.storeStats?.();
    new Gauge({
      name: 'registry_gateway_store_pool_connections',
      help: 'Database connections of this replica by state (total, idle, waiting = callers queued for one)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect(this: Gauge<'state'>) {
        this.reset();
        const pool = stats()?.pool;
        if (!pool) return;
        for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state }, pool[state]);
      },
    });
    new Gauge({
      name: 'registry_gateway_store_leases_held',
      help: 'Deliveries this replica has claimed and is attempting',
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(stats()?.leasesHeld ?? 0);
      },
    });
  }

  /** Adds another thread's series to every scrape; a thread that cannot answer adds none. */
  addSource(read: () => Promise<MetricSnapshot>): void {
    this.others.push(read);
  }

  /** The text of a scrape: this registry's series plus, summed per label set, the other threads'. */
  async exposition(): Promise<string> {
    if (this.others.length === 0) return this.registry.metrics();
    const snapshots = await Promise.all([
      this.registry.getMetricsAsJSON(),
      ...this.others.map((read) => read().catch((): MetricSnapshot => [])),
    ]);
    return AggregatorRegistry.aggregate(snapshots).metrics();
  }

  private counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return new Histogram<L>({ name, help, buckets, labelNames, registers: [this.registry] });
  }
}
