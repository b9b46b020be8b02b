import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from './load';
import type { GatewayConfig } from './types';

/**
 * Keys a running gateway takes over from a changed values or tokens file. Each is read per
 * request, so swapping it between two requests is all a reload does: nothing closes, nothing
 * waits, no request is dropped. The chart's checksum annotation leaves exactly these out, so
 * changing them rolls no pod.
 */
export const LIVE_KEYS = [
  'tokens',
  'sources',
  'registryAliases',
  'defaultRegistry',
  'providers',
  'host',
  'console',
] as const;

/** Keys baked into running parts (listener, store, emitters, logger): a change waits for a restart. */
export const RESTART_KEYS = ['tokensFile', 'emitters', 'delivery', 'server', 'logLevel'] as const;

export interface LiveConfigTarget {
  readonly config: GatewayConfig;
  /** Reads a values file with the running gateway's schema (its provider and emitter lists). */
  load(file: string, env: NodeJS.ProcessEnv): GatewayConfig;
  applyLiveConfig(next: GatewayConfig): void;
  /** Re-reads the served certificate (renewed by cert-manager, say); true when it changed. */
  reloadTls?(): boolean;
}

function fingerprint(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value) ?? '')
    .digest('hex');
}

/** Restart-only keys whose value differs between the running and the new config. */
export function restartKeysChanged(running: GatewayConfig, next: GatewayConfig): string[] {
  return RESTART_KEYS.filter((key) => fingerprint(running[key]) !== fingerprint(next[key]));
}

/**
 * Watches the values file, the tokens file and the TLS files, and SIGHUP calls `reload` too.
 * Kubernetes updates a Secret volume by writing a new directory and swapping the `..data`
 * symlink, so the files themselves are never written in place: the directories are watched,
 * and every event just triggers a fresh load that is applied only when the result changed.
 */
export class ConfigReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private applied: string;

  constructor(
    private readonly configPath: string,
    private readonly target: LiveConfigTarget,
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly debounceMs = 200,
  ) {
    this.applied = fingerprint(pick(target.config));
  }

  start(): void {
    const config = this.target.config;
    const dirs = new Set([path.dirname(path.resolve(this.configPath))]);
    if (config.tokensFile) dirs.add(path.dirname(path.resolve(path.dirname(this.configPath), config.tokensFile)));
    if (config.console.tokensFile) {
      dirs.add(path.dirname(path.resolve(path.dirname(this.configPath), config.console.tokensFile)));
    }
    if (config.server.tls.enabled) {
      dirs.add(path.dirname(path.resolve(config.server.tls.certPath)));
      dirs.add(path.dirname(path.resolve(config.server.tls.keyPath)));
    }
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, () => this.schedule());
        watcher.on('error', (err) => this.logger.warn({ err, dir }, 'config watch failed; SIGHUP still reloads'));
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ err, dir }, 'cannot watch the config directory; SIGHUP still reloads');
      }
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /** A burst of events (one Secret update is several renames) makes one reload. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload('file change'), this.debounceMs);
    this.timer.unref();
  }

  /** Loads both files again and applies the live keys; false when the new files were refused. */
  reload(reason: string): boolean {
    let next: GatewayConfig;
    try {
      next = this.target.load(this.configPath, this.env);
    } catch (err) {
      // ConfigError problems name keys, never values, so they are safe to log.
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.logger.error({ reason, problems }, 'config reload refused; the running config stays');
      return false;
    }
    this.reloadTls(reason);
    const fresh = fingerprint(pick(next));
    if (fresh === this.applied) return true;
    const waiting = restartKeysChanged(this.target.config, next);
    this.target.applyLiveConfig(next);
    this.applied = fresh;
    this.logger.info(
      { reason, tokens: Object.keys(next.tokens).sort(), ...(waiting.length > 0 ? { needRestart: waiting } : {}) },
      waiting.length > 0 ? 'config reloaded; changes to the other keys apply at the next restart' : 'config reloaded',
    );
    return true;
  }

  private reloadTls(reason: string): void {
    const tls = this.target.config.server.tls;
    if (!tls.enabled || !this.target.reloadTls) return;
    try {
      if (this.target.reloadTls()) this.logger.info({ reason }, 'TLS certificate reloaded');
    } catch (err) {
      this.logger.error(
        { reason, err: (err as Error).message },
        'TLS certificate reload refused; the served one stays',
      );
    }
  }
}

function pick(config: GatewayConfig): Record<string, unknown> {
  return Object.fromEntries([...LIVE_KEYS, ...RESTART_KEYS].map((key) => [key, config[key]]));
}
