import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './gateway-process';
import { waitFor } from './wait';

/** Distinctive on purpose: tests grep every log byte for it. */
export const POSTGRES_PASSWORD = 'pg-Secret-4b9e1c77';
const USER = 'rg';

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

/**
 * Skips the calling suite where PostgreSQL is not installed, except under CI, where a missing
 * PostgreSQL is a broken setup (`make test` installs it) and must fail.
 */
export function requirePostgres(ctx: Mocha.Context): void {
  if (binDir()) return;
  if (process.env.CI) throw new Error('PostgreSQL is not installed; `make test` installs it with apt-get (postgresql)');
  ctx.skip();
}

const isRoot = () => process.getuid?.() === 0;

/** PostgreSQL refuses to run as root: run its tools as the postgres user then. */
function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${path.basename(bin)} failed: ${result.stderr || result.stdout}`);
}

/** A throwaway PostgreSQL cluster in a temp dir on a free loopback port. */
export class PostgresCluster {
  private stopped = true;
  private databases = 0;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** A temp dir the server's user owns, with the password file initdb reads. */
  private static workDir(): { bin: string; dir: string } {
    const bin = binDir();
    if (!bin) throw new Error('PostgreSQL is not installed');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-pg-'));
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'pwfile'), `${POSTGRES_PASSWORD}\n`);
    if (isRoot()) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
      chownSync(path.join(dir, 'pwfile'), uid, gid);
    }
    return { bin, dir };
  }

  static async create(): Promise<PostgresCluster> {
    const { bin, dir } = PostgresCluster.workDir();
    run(path.join(bin, 'initdb'), [
      '-D',
      path.join(dir, 'data'),
      '-U',
      USER,
      '--auth=scram-sha-256',
      `--pwfile=${path.join(dir, 'pwfile')}`,
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    const cluster = new PostgresCluster(bin, dir, await freePort());
    cluster.start();
    process.once('exit', () => cluster.destroy());
    return cluster;
  }

  /**
   * A streaming standby of this cluster, copied with pg_basebackup and started, that this
   * primary waits for on every commit (synchronous_standby_names): a commit the primary
   * acknowledged is on the standby too, so promoting it loses no acknowledged write.
   */
  async synchronousStandby(): Promise<PostgresCluster> {
    const { bin, dir } = PostgresCluster.workDir();
    run(
      path.join(bin, 'pg_basebackup'),
      [
        '-D',
        path.join(dir, 'data'),
        '-h',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-U',
        USER,
        '-X',
        'stream',
        '-R',
        '-c',
        'fast',
      ],
      { PGPASSWORD: POSTGRES_PASSWORD },
    );
    const standby = new PostgresCluster(bin, dir, await freePort());
    standby.start();
    process.once('exit', () => standby.destroy());
    await this.sql(`ALTER SYSTEM SET synchronous_standby_names = '*'`);
    await this.sql('SELECT pg_reload_conf()');
    await waitFor(
      'the standby to become synchronous',
      async () => (await this.sql(`SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'`)).length > 0,
      30_000,
    );
    return standby;
  }

  /** Ends recovery on a standby: it takes writes from now on, as a failover's new primary. */
  promote(): void {
    run(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-w', 'promote']);
  }

  /** One statement on the admin database. */
  async sql(text: string): Promise<unknown[]> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  }

  /** Connection URL for a database (the admin database by default), password included. */
  url(database = 'postgres'): string {
    return `postgres://${USER}:${encodeURIComponent(POSTGRES_PASSWORD)}@127.0.0.1:${this.port}/${database}`;
  }

  /** A fresh, empty database: each suite gets its own, so nothing leaks between them. */
  async createDatabase(): Promise<string> {
    const name = `rg_test_${process.pid}_${++this.databases}`;
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** Starts the server unless it is running. */
  start(): void {
    if (!this.stopped) return;
    run(path.join(this.bin, 'pg_ctl'), [
      '-D',
      path.join(this.dir, 'data'),
      '-l',
      path.join(this.dir, 'server.log'),
      '-w',
      '-o',
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c max_connections=300`,
      'start',
    ]);
    this.stopped = false;
  }

  /** `fast` disconnects every client at once, as a failover or a restart does. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    if (this.stopped) return;
    run(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
    this.stopped = true;
  }

  destroy(): void {
    try {
      this.stop('immediate');
    } catch {
      // Already gone.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: Promise<PostgresCluster> | undefined;

/** One cluster for the whole test run, started on first use and removed when the run exits. */
export function sharedPostgres(): Promise<PostgresCluster> {
  shared ??= PostgresCluster.create();
  return shared;
}
