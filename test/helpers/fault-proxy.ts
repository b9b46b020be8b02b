import net from 'node:net';

export interface FaultSettings {
  /** Share (0..1) of exchanges (a request and its answer) reset after a random number of bytes. */
  resetRate: number;
  /** Each chunk, either way, is held back a random time in this range (ms). */
  latencyMs: [number, number];
  /** While true, connections are accepted and bytes swallowed: nothing is answered, nothing is refused. */
  blackhole: boolean;
}

const HEALTHY: FaultSettings = { resetRate: 0, latencyMs: [0, 0], blackhole: false };

interface Pair {
  client: net.Socket;
  server: net.Socket;
}

/**
 * A TCP proxy that misbehaves on request, put between a gateway and what it talks to (its
 * database, a target) to show what the gateway does when the network does what networks do: a
 * connection reset half-way through a query or a response, a slow path, a path that swallows
 * packets without an answer (a dead node behind a Service), and a Service that now points at
 * another backend (a failover). Bytes are only ever passed through, held back or dropped whole
 * with their connection, never altered.
 */
export class FaultProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private settings: FaultSettings = { ...HEALTHY };
  /** Reset connections, by cause: how much fault the scenario really injected. */
  readonly resets = { random: 0, all: 0 };
  connections = 0;
  /** Requests seen: data from the client after data from the server, or a connection's first. */
  exchanges = 0;

  private constructor(
    private backendPort: number,
    private readonly random: () => number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(backendPort: number, random: () => number = Math.random): Promise<FaultProxy> {
    const proxy = new FaultProxy(backendPort, random);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Changes the faults for connections from now on (and the latency and blackhole of open ones). */
  set(faults: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...faults };
  }

  heal(): void {
    this.settings = { ...HEALTHY };
  }

  /** Resets every open connection at once, as a restarted router or a killed node does. */
  resetAll(): void {
    for (const pair of [...this.pairs]) {
      this.resets.all++;
      this.drop(pair);
    }
  }

  /** New connections go to another backend; open ones are left as they are, as a Service's are. */
  switchTo(backendPort: number): void {
    this.backendPort = backendPort;
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.connections++;
    const server = net.connect(this.backendPort, '127.0.0.1');
    const pair = { client, server };
    this.pairs.add(pair);
    // A reset peer is this proxy's everyday business, never a reason to stop.
    client.on('error', () => this.drop(pair));
    server.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    server.on('close', () => this.drop(pair));
    // Decided per exchange, not per connection: a kept-alive connection carries many requests,
    // and each is a new chance for the path to fail half-way through it.
    let resetAfter = Infinity;
    let passed = 0;
    let lastFrom: net.Socket | undefined;
    const relay = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (this.settings.blackhole) return;
        if (from === client && lastFrom !== client) {
          this.exchanges++;
          resetAfter = this.random() < this.settings.resetRate ? passed + Math.floor(this.random() * 1024) : Infinity;
        }
        lastFrom = from;
        passed += chunk.length;
        if (passed > resetAfter) {
          this.resets.random++;
          this.drop(pair);
          return;
        }
        const [min, max] = this.settings.latencyMs;
        const delay = min + this.random() * (max - min);
        if (delay <= 0) {
          to.write(chunk);
          return;
        }
        // Held back in order: pausing the source keeps chunks from overtaking each other.
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, delay);
      });
    };
    relay(client, server);
    relay(server, client);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.server.resetAndDestroy();
  }
}
