import { ConfigReloader } from '../config/reload';
import { Gateway, loadConfig } from '../gateway';
import { createLogger } from '../observability/logger';
import { stopTracing } from '../observability/tracing-sdk';

/** `registry-gateway serve --config F`: runs until SIGTERM/SIGINT, then drains and exits 0. */
export async function serveCommand(configPath: string): Promise<void> {
  const config = loadConfig(configPath);
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection');
  });
  const gateway = await Gateway.start(config, logger);
  const reloader = new ConfigReloader(configPath, gateway, logger);
  reloader.start();
  process.on('SIGHUP', () => reloader.reload('SIGHUP'));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    reloader.stop();
    logger.info({ signal }, 'signal received');
    // The spans of the last deliveries are exported before the process goes.
    gateway
      .stop()
      .then(() => stopTracing().catch((err: unknown) => logger.warn({ err }, 'cannot export the last spans')))
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
