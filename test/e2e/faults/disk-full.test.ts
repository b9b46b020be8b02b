import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { FakeBrigadeApi } from '../../fakes/brigade-api';
import { allReady, BRIGADE_TOKEN, phaseMs, settle, someNotReady, TOKEN } from '../../helpers/chaos';
import { cleanupAfterEach, GatewayProcess, tempDir } from '../../helpers/gateway-process';
import { SteadyLoad } from '../../helpers/steady-load';

/** A small filesystem of its own (tmpfs, so nothing else on the machine fills with it). */
function smallVolume(megabytes: number): { dir: string; remove(): void } {
  const dir = tempDir('rg-volume-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
  } catch (err) {
    throw new Error(`this scenario mounts a ${megabytes} MiB tmpfs, which needs root`, { cause: err });
  }
  return {
    dir,
    remove: () => {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes until the volume refuses (ENOSPC): what another tenant of the volume does. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * The volume under the SQLite store fills up (a log, another tenant, a forgotten dump) while
 * webhooks arrive, then space is freed. The store's own budget cannot help here, since the space
 * went elsewhere: every write fails with SQLITE_FULL. The gateway answers 503 with Retry-After,
 * reports not ready, stays up, and once space is back takes events again by itself; every event
 * it acknowledged is delivered.
 *
 * Duplicate bound: a delivery whose mark could not be written (no space) is attempted again
 * once there is, at most the concurrency (8) in flight when the volume filled.
 */
describe('faults: the SQLite store’s volume fills up under steady load', function () {
  this.timeout(300_000);
  const cleanup = { push: cleanupAfterEach() };

  it('503 with Retry-After and not ready while full, no crash, back by itself once space is freed', async () => {
    const volume = smallVolume(16);
    cleanup.push(() => Promise.resolve(volume.remove()));
    const storeDir = path.join(volume.dir, 'store');
    mkdirSync(storeDir);
    const api = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await api.start();
    cleanup.push(() => api.close());
    const gateway = await GatewayProcess.start(`
tokens: {ci: ${TOKEN}}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${api.address}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: 2}
delivery: {dir: ${storeDir}, initialBackoffSeconds: 0.05, maxBackoffSeconds: 1, maxAttempts: 1000, concurrency: 8}
server: {port: $PORT}
`);
    cleanup.push(() => gateway.kill9());
    const load = new SteadyLoad({ replicas: () => [gateway.url], token: TOKEN, prefix: 'disk' });
    load.start();
    cleanup.push(() => load.stop());
    await load.acknowledged(50);

    const ballast = path.join(volume.dir, 'ballast');
    fill(ballast);
    await someNotReady([gateway]);
    await new Promise((r) => setTimeout(r, phaseMs(2)));
    rmSync(ballast);
    const started = Date.now();
    await allReady([gateway]);
    await load.acknowledged(30);
    await settle('the SQLite volume full, then freed', load, api, [gateway], (Date.now() - started) / 1000, 8);
  });
});
