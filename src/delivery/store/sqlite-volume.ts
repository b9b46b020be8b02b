import { statfsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** Failures of the volume itself (full, I/O errors, remounted read-only), as opposed to contention. */
const VOLUME_FAILURE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/;
/** While the volume refuses writes, how often a write is tried to learn that it takes them again. */
const WRITE_PROBE_INTERVAL_MS = 1000;
/**
 * Free space a full volume must have again before the store counts it as writable: a few pages
 * freed by a WAL truncation let one small write through, and resuming on that alone would flap,
 * each time delivering rows whose marks then fail again.
 */
const RESUME_FREE_BYTES = 1024 * 1024;

/**
 * Whether the volume under the SQLite file takes writes. Space the store's own budget never
 * counted can still run out (another file on the volume grew), and disks fail: every write then
 * fails with SQLITE_FULL or an I/O error. The store is then not ready, so a Service sends webhooks
 * elsewhere, and a write is tried every second, since with no traffic nothing else would find out
 * that the volume takes writes again.
 */
export class VolumeHealth {
  private failure?: string;
  private probeTimer?: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    /** A write that changes nothing, tried while the volume refuses writes. */
    private readonly probe: () => void,
    private readonly logger?: Logger,
  ) {}

  /** Why writes fail right now; undefined while they succeed. */
  get reason(): string | undefined {
    return this.failure;
  }

  /** A write failed: if the volume is to blame, not ready until a write succeeds. */
  failed(err: unknown, closed: boolean): void {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !VOLUME_FAILURE.test(code)) return;
    if (this.failure === undefined) {
      this.logger?.error({ err, store: this.file }, 'the store cannot write; refusing events until it can');
    }
    this.failure = `the delivery store cannot write (${code}): ${(err as Error).message}`;
    if (this.probeTimer || closed) return;
    this.probeTimer = setInterval(() => {
      try {
        this.probe();
        this.succeeded();
      } catch (probeErr) {
        this.failed(probeErr, closed);
      }
    }, WRITE_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  /** A write got through. */
  succeeded(): void {
    if (this.failure === undefined || !this.hasRoom()) return;
    this.failure = undefined;
    this.close();
    this.logger?.info({ store: this.file }, 'the store can write again: taking new events');
  }

  private hasRoom(): boolean {
    try {
      const fs = statfsSync(path.dirname(this.file));
      return fs.bavail * fs.bsize >= RESUME_FREE_BYTES;
    } catch {
      // No statfs (an unusual file system): the write that got through is all there is to go on.
      return true;
    }
  }

  close(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }
}
