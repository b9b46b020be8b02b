import pg from 'pg';
import type { Logger } from 'pino';
import type { Redactor } from './postgres-connection';
import type { PostgresDatabase } from './postgres-database';

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

/**
 * LISTEN on a dedicated connection (a pooled one would lose the subscription when returned), so
 * every replica's dispatcher wakes as soon as any replica stores rows or an operator replays some.
 * It is an accelerator only: dispatchers also poll, so a lost connection delays, never loses.
 */
export class WakeListener {
  private client?: pg.Client;
  private timer?: NodeJS.Timeout;
  private delayMs = RECONNECT_MIN_MS;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onWake: (emitters: string[]) => void,
    private readonly redact: Redactor,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      application_name: 'registry-gateway listen',
    });
    client.on('notification', (msg) => {
      if (msg.channel === this.channel && msg.payload) this.onWake(msg.payload.split(','));
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.delayMs = RECONNECT_MIN_MS;
      // Rows may have been stored while nobody listened.
      this.onWake([]);
    } catch (err) {
      this.lost(client, err);
    }
  }

  private lost(client: pg.Client, err?: unknown): void {
    if (this.closed || this.timer) return;
    if (this.client && this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.logger?.warn(
      { err: err ? this.redact.error(err) : undefined, retryInMs: this.delayMs },
      'lost the database notification connection; polling until it is back',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.delayMs * 2, RECONNECT_MAX_MS);
  }
}

/**
 * Wakes every replica's dispatcher for `emitters`, in a statement of its own after the change
 * committed: a NOTIFY inside the writing transaction takes a lock at commit that serialises every
 * commit on the instance. A wake that fails loses nothing: every dispatcher also polls.
 */
export async function notifyReplicas(
  db: PostgresDatabase,
  channel: string,
  emitters: readonly string[],
  logger?: Logger,
): Promise<void> {
  if (emitters.length === 0) return;
  await db
    .query('SELECT pg_notify($1, $2)', [channel, [...new Set(emitters)].join(',')])
    .catch((err) => logger?.warn({ err: db.redact.error(err) }, 'cannot wake the other replicas; they poll'));
}
