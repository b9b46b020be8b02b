import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { freePort } from './gateway-process';
import { waitFor } from './wait';

/** Whether a command is on PATH. */
function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/**
 * Skips the calling suite where Distribution or skopeo is missing, except under CI, where
 * `make test` installs both (make system-deps) and a missing one is a broken setup that must fail.
 */
export function requireRegistryTools(ctx: Mocha.Context): void {
  if (have('docker-registry') && have('skopeo')) return;
  if (process.env.CI) throw new Error('docker-registry and skopeo are required in CI (make system-deps)');
  ctx.skip();
}

/**
 * Debian's CNCF Distribution registry (2.8) on a free loopback port, storing under `dir` and
 * notifying `notifyUrl` with a Bearer token, as an operator configures it for the gateway.
 * `make test` installs it (and skopeo); a suite throws rather than skips without them in CI.
 */
export class DistributionRegistry {
  private log = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
  ) {
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
  }

  static async start(options: {
    dir: string;
    notifyUrl: string;
    token: string;
    /** Lets manifests be deleted through the API (off by default in Distribution). */
    deletes?: boolean;
    /** When the gateway's config must name the registry before it starts. */
    port?: number;
  }): Promise<DistributionRegistry> {
    const host = `127.0.0.1:${options.port ?? (await freePort())}`;
    const configPath = path.join(options.dir, 'config.yml');
    writeFileSync(
      configPath,
      `version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: ${path.join(options.dir, 'storage')}}
${options.deletes ? '  delete: {enabled: true}\n' : ''}http:
  addr: ${host}
notifications:
  endpoints:
    - name: registry-gateway
      url: ${options.notifyUrl}
      headers:
        Authorization: [Bearer ${options.token}]
      timeout: 2s
      threshold: 5
      backoff: 1s
`,
    );
    const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const registry = new DistributionRegistry(child, host);
    await waitFor(
      'the registry',
      async () => (await axios.get(`http://${host}/v2/`, { validateStatus: () => true })).status === 200,
      20_000,
    ).catch((err: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\n${registry.log}`);
    });
    return registry;
  }

  /** The end of the registry's own log, for a failure message. */
  tail(chars = 4000): string {
    return this.log.slice(-chars);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
