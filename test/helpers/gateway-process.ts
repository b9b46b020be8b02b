import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { waitFor } from './wait';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function tempDir(prefix = 'rg-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs the CLI from source (no build step needed) and collects its output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(REPO_ROOT, 'src', 'cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * The real gateway as a child process, for what only a process can show: kill -9, SIGTERM,
 * restart on the same store, the operator CLI against a running gateway.
 */
export class GatewayProcess {
  stdout = '';
  stderr = '';
  exitCode: number | null | undefined = undefined;
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly configPath: string,
  ) {
    child.stdout!.on('data', (d) => (this.stdout += d));
    child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      }),
    );
  }

  /** Writes the config (`$PORT` and `$DIR` filled in) and starts the gateway on it. */
  static async start(
    configYaml: string,
    options: { dir?: string; port?: number; env?: NodeJS.ProcessEnv } = {},
  ): Promise<GatewayProcess> {
    const dir = options.dir ?? tempDir();
    const port = options.port ?? (await freePort());
    const configPath = path.join(dir, 'values.yaml');
    writeFileSync(configPath, configYaml.replace(/\$PORT/g, String(port)).replace(/\$DIR/g, dir));
    return GatewayProcess.launch(configPath, port, options.env);
  }

  /** Starts `serve --config configPath` and waits for /readyz; `port` is where it will listen. */
  static async launch(configPath: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
    const child = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(REPO_ROOT, 'src', 'cli.ts'), 'serve', '--config', configPath],
      { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const gw = new GatewayProcess(child, `http://127.0.0.1:${port}`, configPath);
    await waitFor(
      'the gateway to be ready',
      async () => {
        if (gw.exitCode !== undefined) throw new Error(`gateway exited ${gw.exitCode}: ${gw.stderr}`);
        const res = await axios.get(`${gw.url}/readyz`, { validateStatus: () => true, timeout: 1000 });
        return res.status === 200;
      },
      // Generous: tsx compiles the sources at start, slowly on a loaded 2-core CI machine.
      60_000,
    ).catch((err) => {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\nstderr:\n${gw.stderr}\nstdout (end):\n${gw.stdout.slice(-3000)}`);
    });
    return gw;
  }

  /** The log emitter's output: one event per stdout line. */
  events(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  }

  /** Sends a signal the gateway handles without stopping (SIGHUP: reload the config). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async terminate(timeoutMs = 30_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * Registers an afterEach that undoes, newest first, what the suite's tests set up (gateway
 * processes, fakes); returns the function a test registers each undo with.
 */
export function cleanupAfterEach(): (undo: () => Promise<unknown>) => void {
  const pending: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of pending.splice(0).reverse()) await undo().catch(() => undefined);
  });
  return (undo) => {
    pending.push(undo);
  };
}
