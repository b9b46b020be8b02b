import type { Logger } from 'pino';
import type { GatewayConfig, RequestLogSettings } from '../config/types';
import type { RequestRecord, RequestWriter } from '../delivery/store';
import type { Reply } from './reply';

/** A batch goes to the store after this long, or at this many rows, whichever comes first. */
const FLUSH_MS = 250;
/** Also the most rows one statement carries: a backlog is written in statements of this size. */
const FLUSH_ROWS = 200;
/** Rows waiting while the store refuses writes; past this the oldest are dropped (diagnostics only). */
const MAX_BUFFERED = 10_000;
/** The most of a refused body kept, when `requests.keepRefusedBodies` is on. */
export const MAX_KEPT_BODY = 64 * 1024;
/** Shorter values are not looked for: an empty google-oidc value, say, would match everywhere. */
const MIN_SECRET_LENGTH = 8;
const REDACTED = '[redacted]';

/** What the edge knows of one request once it is answered. */
export interface AnsweredRequest {
  receivedAt: number;
  source: string;
  method: string;
  /** Already redacted (loggablePath). */
  path: string;
  reply: Reply;
  latencyMs: number;
  /** The body as read, when it was read. */
  body?: Buffer;
}

/** The row of an answered request: the Reply's outcome, never a token value. */
export function requestRecord(answered: AnsweredRequest, keepRefusedBodies: boolean): RequestRecord {
  const { reply } = answered;
  const outcome = reply.outcome;
  const record: RequestRecord = {
    receivedAt: answered.receivedAt,
    source: answered.source,
    method: answered.method,
    path: answered.path,
    status: reply.status,
    result: outcome.result,
    latencyMs: Math.round(answered.latencyMs * 1000) / 1000,
  };
  if (reply.provider) record.provider = reply.provider;
  if (reply.token) record.token = reply.token;
  if (outcome.result === 'accepted' || outcome.result === 'duplicate')
    record.eventIds = outcome.events.map((e) => e.id);
  else if (outcome.result === 'refused') record.reason = `${outcome.refusal}: ${outcome.reason}`;
  else record.reason = outcome.reason;
  if (outcome.result === 'refused' && keepRefusedBodies && answered.body?.length) {
    record.body = answered.body.subarray(0, MAX_KEPT_BODY).toString('utf8');
  }
  return record;
}

/**
 * Every secret value the running config holds (webhook and operator tokens), for the recorder to
 * look for: a token sent where none is expected (as the provider segment of the path, in a
 * refused body) must not reach the log. Read afresh from the config a live reload swaps.
 */
export function configSecrets(config: Pick<GatewayConfig, 'tokens' | 'console'>): () => readonly string[] {
  let seen: [unknown, unknown] | undefined;
  let values: string[] = [];
  return () => {
    if (seen?.[0] !== config.tokens || seen[1] !== config.console.tokens) {
      seen = [config.tokens, config.console.tokens];
      const webhook = Object.values(config.tokens).map((t) => (typeof t === 'string' ? t : (t?.value ?? '')));
      values = [...webhook, ...Object.values(config.console.tokens)].filter((v) => v.length >= MIN_SECRET_LENGTH);
    }
    return values;
  };
}

function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, secret) => (t.includes(secret) ? t.split(secret).join(REDACTED) : t), text);
}

/** The record with every secret value taken out of what a sender chose: the path, the reason, the body. */
function scrubbed(record: RequestRecord, secrets: readonly string[]): RequestRecord {
  if (secrets.length === 0) return record;
  record.path = scrub(record.path, secrets);
  if (record.reason !== undefined) record.reason = scrub(record.reason, secrets);
  if (record.body !== undefined) record.body = scrub(record.body, secrets);
  return record;
}

/**
 * The request log's writer at the edge: rows are batched in memory and written in the background,
 * so an answer never waits on them and a failed write never changes one; the store writes them
 * without an fsync of their own. A failed write is logged and its rows kept for the next batch,
 * up to a bound. The rows past `requests.retentionHours` and `maxRows` go with the store's prune.
 */
export class RequestRecorder {
  private buffer: RequestRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;
  private closed = false;

  constructor(
    private readonly writer: RequestWriter,
    private readonly settings: () => RequestLogSettings,
    private readonly logger: Logger,
    private readonly secrets: () => readonly string[] = () => [],
  ) {}

  /** Called once the answer is written; never throws, so the request it records is unaffected. */
  record(answered: AnsweredRequest): void {
    const { keepRefusedBodies, retentionHours, maxRows } = this.settings();
    // A log that keeps nothing is off: nothing is written only to be pruned.
    if (retentionHours === 0 || maxRows === 0) return;
    try {
      this.buffer.push(scrubbed(requestRecord(answered, keepRefusedBodies), this.secrets()));
    } catch (err) {
      this.logger.warn({ err }, 'request not recorded');
      return;
    }
    if (this.buffer.length > MAX_BUFFERED) this.buffer.splice(0, this.buffer.length - MAX_BUFFERED);
    if (this.buffer.length >= FLUSH_ROWS) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is buffered; resolves once every row recorded so far is written (or failed). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => (batch.length ? this.write(batch) : undefined));
    return this.writing;
  }

  /** Writes what is left; the store closes after. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }

  private async write(batch: RequestRecord[]): Promise<void> {
    for (let start = 0; start < batch.length; start += FLUSH_ROWS) {
      try {
        await this.writer.recordRequests(batch.slice(start, start + FLUSH_ROWS));
      } catch (err) {
        this.failed(err, batch.slice(start));
        return;
      }
    }
    if (this.failing) this.logger.info('request log writes go through again');
    this.failing = false;
  }

  /** Keeps the rows for the next batch; says so once per run of failures, not once per batch. */
  private failed(err: unknown, rows: RequestRecord[]): void {
    this.buffer = [...rows, ...this.buffer].slice(-MAX_BUFFERED);
    const fields = { err, rows: rows.length };
    if (!this.failing) this.logger.warn(fields, 'request log write failed; its rows wait for the next batch');
    else this.logger.debug(fields, 'request log write failed again');
    this.failing = true;
    // Rows buffered only by failures still need a timer to go out, until the store closes.
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }
}
