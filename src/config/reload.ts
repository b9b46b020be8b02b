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
export const RESTART_KEYS = ['tokensFile', 'emitters', 'delivery', 'requests', 'server', 'logLevel'] as const;

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

/** How file events turn into reloads; the defaults suit a Secret volume. */
export interface ReloadTiming {
  /** Quiet time after the last file event before reading: one Secret update is several renames. */
  debounceMs: number;
  /**
   * The longest a stream of file events can put a reload off. Without it, anything writing into
   * a watched directory more often than `debounceMs` (a log file, a sidecar's state) would hold
   * a rotated token back until the writes stop.
   */
  maxWaitMs: number;
  /**
   * A re-read on a timer, whatever the watcher saw: inotify says nothing on some volumes (NFS,
   * some CSI drivers) and after a watch error, and a missed event must not leave an old token
   * in force until the next restart. Reading two small files is cheap; an unchanged result is
   * applied nowhere and logged only at debug. 0 turns it off.
   */
  rereadMs: number;
}

const DEFAULT_TIMING: ReloadTiming = { debounceMs: 200, maxWaitMs: 1_000, rereadMs: 30_000 };

/** What started a reload: SIGHUP is an operator asking, so its outcome is always told. */
export type ReloadReason = 'SIGHUP' | 'file change' | 'periodic re-read';

/** Token names (never values) that a reload adds, removes, or gives another value or scope. */
export interface TokenChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export function tokenChanges(running: GatewayConfig['tokens'], next: GatewayConfig['tokens']): TokenChanges {
  const names = [...new Set([...Object.keys(running), ...Object.keys(next)])].sort();
  const changes: TokenChanges = { added: [], removed: [], changed: [] };
  for (const name of names) {
    if (!Object.hasOwn(running, name)) changes.added.push(name);
    else if (!Object.hasOwn(next, name)) changes.removed.push(name);
    else if (fingerprint(running[name]) !== fingerprint(next[name])) changes.changed.push(name);
  }
  return changes;
}

/**
 * Watches the values file, the tokens file and the TLS files, re-reads them on a timer, and
 * SIGHUP calls `reload` too. Kubernetes updates a Secret volume by writing a new directory and
 * swapping the `..data` symlink, so the files themselves are never written in place: the
 * directories are watched, and every event just triggers a fresh load that is applied only
 * when the result changed.
 */
export class ConfigReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  /** When the first file event of the burst being debounced arrived. */
  private burstStarted: number | undefined;
  private applied: string;
  /** The problems of the last refused load, so a timer does not repeat them every round. */
  private lastRefusal: string | undefined;
  private readonly timing: ReloadTiming;

  constructor(
    private readonly configPath: string,
    private readonly target: LiveConfigTarget,
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    timing: Partial<ReloadTiming> = {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...timing };
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
        watcher.on('error', (err) =>
          this.logger.warn({ err, dir }, 'config watch failed; the periodic re-read and SIGHUP still reload'),
        );
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn(
          { err, dir },
          'cannot watch the config directory; the periodic re-read and SIGHUP still reload',
        );
      }
    }
    if (this.timing.rereadMs > 0) {
      this.interval = setInterval(() => this.reload('periodic re-read'), this.timing.rereadMs);
      this.interval.unref();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.interval);
    this.burstStarted = undefined;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /**
   * A burst of events (one Secret update is several renames) makes one reload, once the
   * directory has been quiet for `debounceMs` or the burst has lasted `maxWaitMs`, whichever
   * comes first.
   */
  private schedule(): void {
    const now = Date.now();
    this.burstStarted ??= now;
    const delay = Math.max(0, Math.min(this.timing.debounceMs, this.burstStarted + this.timing.maxWaitMs - now));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.burstStarted = undefined;
      this.reload('file change');
    }, delay);
    this.timer.unref();
  }

  /** Loads both files again and applies the live keys; false when the new files were refused. */
  reload(reason: ReloadReason): boolean {
    let next: GatewayConfig;
    try {
      next = this.target.load(this.configPath, this.env);
    } catch (err) {
      // ConfigError problems name keys, never values, so they are safe to log.
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      const refusal = fingerprint(problems);
      const repeated = reason === 'periodic re-read' && refusal === this.lastRefusal;
      this.lastRefusal = refusal;
      this.logger[repeated ? 'debug' : 'error'](
        { reason, problems },
        'config reload refused; the running config stays',
      );
      return false;
    }
    this.lastRefusal = undefined;
    this.reloadTls(reason);
    const fresh = fingerprint(pick(next));
    if (fresh === this.applied) {
      this.logger[reason === 'SIGHUP' ? 'info' : 'debug']({ reason }, 'config unchanged; nothing to reload');
      return true;
    }
    const waiting = restartKeysChanged(this.target.config, next);
    const tokens = tokenChanges(this.target.config.tokens, next.tokens);
    this.target.applyLiveConfig(next);
    this.applied = fresh;
    this.logger.info(
      {
        reason,
        ...(tokens.added.length > 0 ? { tokensAdded: tokens.added } : {}),
        ...(tokens.removed.length > 0 ? { tokensRemoved: tokens.removed } : {}),
        ...(tokens.changed.length > 0 ? { tokensChanged: tokens.changed } : {}),
        ...(waiting.length > 0 ? { needRestart: waiting } : {}),
      },
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
