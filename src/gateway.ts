import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Credentials } from './auth/credentials';
import { LIVE_KEYS, type LiveConfigTarget } from './config/reload';
import type { GatewayConfig } from './config/types';
import { StoringIntake } from './delivery/intake';
import { openStore, type DeliveryStore } from './delivery/store';
import type { Emitter } from './emitters/types';
import { Metrics } from './observability/metrics';
import { PROVIDERS } from './providers';
import { createConsole } from './console';
import { DeliveryHost, deliveryEmitters, type DeliveryRunner } from './runtime/delivery-host';
import { DeliveryThread } from './runtime/delivery-thread';
import { WriterLock } from './delivery/store/sqlite-writer-lock';
import { loadConfig, type Config } from './runtime/gateway-config';
import { createApp } from './server/app';
import { configSecrets, RequestRecorder } from './server/request-recorder';

export { createEmitters } from './runtime/emitter-set';
export { configSchema, loadConfig, parseConfig, type Config } from './runtime/gateway-config';

/**
 * The whole service: store, emitters, dispatcher and HTTP edge, started and stopped in the
 * order that keeps every acknowledged event safe.
 */
export class Gateway implements LiveConfigTarget {
  private draining = false;
  private tlsFingerprint = '';

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly store: DeliveryStore,
    private readonly delivery: DeliveryRunner,
    private readonly emitters: Emitter[],
    private readonly server: http.Server | https.Server,
    private readonly credentials: Credentials,
    /** The console and /metrics, when `server.adminPort` gives them a listener of their own. */
    private readonly adminServer: http.Server | https.Server | undefined,
    private readonly requests: RequestRecorder,
  ) {}

  static async start(config: Config, logger: Logger): Promise<Gateway> {
    const metrics = new Metrics();
    // The listener's and the worker's connections to one SQLite file take turns through it.
    const writerLock = config.delivery.worker && config.delivery.store === 'sqlite' ? WriterLock.memory() : undefined;
    const store = await openStore(config.delivery, {
      metrics,
      logger: logger.child({ component: 'store' }),
      collapse: config.collapse,
      requestLog: config.requests,
      writerLock,
    });
    // The wiring connects the store to the metrics: neither knows the other.
    metrics.deliveryCounts = () => store.counts();
    metrics.storeStats = () => store.stats();
    // Routing and the console's previews use emitters built here; delivery uses its own, in the
    // worker thread when there is one.
    const emitters = deliveryEmitters(config, store, logger);
    const delivery: DeliveryRunner = config.delivery.worker
      ? DeliveryThread.start(config, metrics, logger, writerLock)
      : DeliveryHost.start(config, store, metrics, logger);
    const intake = new StoringIntake(store, emitters, () => delivery.notify());
    // Listening before delivery runs would take events that then wait for the worker to load.
    await waitAtMost(delivery.ready(), WORKER_START_MS, () =>
      logger.warn({ waitedMs: WORKER_START_MS }, 'delivery is still starting; listening anyway'),
    );

    let gateway: Gateway | undefined;
    const credentials = new Credentials(config.tokens);
    const requestLogger = logger.child({ component: 'requests' });
    const requests = new RequestRecorder(store, () => config.requests, requestLogger, configSecrets(config));
    const deps = {
      requests,
      config,
      credentials,
      providers: PROVIDERS,
      intake,
      metrics,
      logger,
      readiness: { notReadyReason: () => (gateway ? gateway.notReadyReason() : 'starting') },
      console: createConsole({
        config,
        store,
        emitters,
        logger: logger.child({ component: 'console' }),
        requeued: () => delivery.notify(),
      }),
    };
    const { adminPort } = config.server;
    const separateAdmin = adminPort !== null;
    const server = createServer(config, createApp(deps, { webhooks: true, admin: !separateAdmin }));
    const adminServer = separateAdmin
      ? createServer(config, createApp(deps, { webhooks: false, admin: true }))
      : undefined;

    gateway = new Gateway(
      config,
      logger,
      metrics,
      store,
      delivery,
      emitters,
      server,
      credentials,
      adminServer,
      requests,
    );
    if (config.server.tls.enabled) gateway.reloadTls();
    await listen(server, config.server.port, logger);
    if (adminServer) {
      try {
        await listen(adminServer, adminPort!, logger);
      } catch (err) {
        // A taken admin port must not leave the webhook listener and the store running headless.
        await gateway.stop(0);
        throw err;
      }
    }
    logger.info(
      {
        port: gateway.port,
        adminPort: gateway.adminPort,
        emitters: emitters.map((e) => e.name),
        store: store.location,
      },
      'registry-gateway listening',
    );
    return gateway;
  }

  load(file: string, env: NodeJS.ProcessEnv): Config {
    return loadConfig(file, env);
  }

  /**
   * The HTTP edge reads these keys from `config` on every request, so assigning them here is the
   * whole reload; the credentials swap each token set in one assignment.
   */
  applyLiveConfig(next: GatewayConfig): void {
    this.credentials.replace(next.tokens);
    const live = this.config as unknown as Record<string, unknown>;
    for (const key of LIVE_KEYS) live[key] = next[key];
  }

  /** Serves a renewed certificate to new connections; false when the files are unchanged. */
  reloadTls(): boolean {
    const { certPath, keyPath } = this.config.server.tls;
    const cert = readFileSync(certPath);
    const key = readFileSync(keyPath);
    const fingerprint = createHash('sha256').update(cert).update(key).digest('hex');
    if (fingerprint === this.tlsFingerprint) return false;
    if (this.tlsFingerprint) {
      for (const server of this.servers) (server as https.Server).setSecureContext({ cert, key });
    }
    this.tlsFingerprint = fingerprint;
    return true;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The admin listener's port; undefined when the console and /metrics share `port`. */
  get adminPort(): number | undefined {
    return this.adminServer ? (this.adminServer.address() as AddressInfo).port : undefined;
  }

  private get servers(): (http.Server | https.Server)[] {
    return this.adminServer ? [this.server, this.adminServer] : [this.server];
  }

  notReadyReason(): string | undefined {
    if (this.draining) return 'shutting down';
    return this.store.notReadyReason();
  }

  /**
   * SIGTERM: refuse new events (readyz 503), let requests in flight finish and commit, let
   * delivery attempts in flight finish, then close the store. Nothing acknowledged is lost:
   * undelivered rows stay in the store for the next start.
   */
  async stop(timeoutMs = this.config.server.shutdownTimeoutSeconds * 1000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.logger.info('shutting down: no new events; finishing requests and deliveries in flight');
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const server of this.servers) server.closeIdleConnections();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([closed, deadline]);
    for (const server of this.servers) server.closeAllConnections();
    await this.store.drain();
    await this.delivery.stop(timeoutMs);
    await Promise.all(this.emitters.map((e) => e.close?.() ?? Promise.resolve()));
    await this.requests.close();
    await this.store.close();
    this.logger.info('stopped');
  }
}

/** Past this, the listener opens without delivery (events wait in the store for it). */
const WORKER_START_MS = 30_000;

async function waitAtMost(task: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(resolve, ms, 'late');
  });
  if ((await Promise.race([task, late])) === 'late') onTimeout();
  clearTimeout(timer);
}

/** One listener: HTTPS with the configured certificate when TLS is on (the admin port too). */
function createServer(config: Config, app: http.RequestListener): http.Server | https.Server {
  const tls = config.server.tls;
  const server = tls.enabled
    ? https.createServer({ cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) }, app)
    : http.createServer(app);
  // Harbor and ACR give a webhook a few seconds; a slow client must not hold a socket forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  // Senders pool connections (Go's client keeps them 90 s) and do not retry a POST that meets a
  // connection the server just closed; ACR never retries at all. Outlasting the usual load
  // balancer idle timeout (60 s) makes that race rare.
  server.keepAliveTimeout = 65_000;
  return server;
}

function listen(server: http.Server | https.Server, port: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      // Once listening, an error of the listening socket (EMFILE on accept, say) is reported
      // and served through; without a listener it would end the process.
      server.on('error', (err) => logger.error({ err, port }, 'the listening socket reported an error'));
      resolve();
    });
  });
}
