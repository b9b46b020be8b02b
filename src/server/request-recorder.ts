import type { Logger } from 'pino';
import type { RequestLogSettings } from '../config/types';
import type { RequestRecord, RequestWriter } from '../delivery/store';
import type { Reply } from './reply';

/** A batch goes to the store after this long, or at this many rows, whichever comes first. */
const FLUSH_MS = 250;
const FLUSH_ROWS = 200;
/** Rows waiting while the store refuses writes; past this the oldest are dropped (diagnostics only). */
const MAX_BUFFERED = 10_000;
/** How often the log is cut back to its retention and row cap. */
const PRUNE_MS = 60_000;
/** The most of a refused body kept, when `requests.keepRefusedBodies` is on. */
export const MAX_KEPT_BODY = 64 * 1024;

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
 * The request log's writer at the edge: rows are batched in memory and written in the background,
 * so an acknowledgement never waits on them, and the store writes them without an fsync of their
 * own. A failed write is logged and the rows kept for the next batch, up to a bound.
 */
export class RequestRecorder {
  private buffer: RequestRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(
    private readonly writer: RequestWriter,
    private readonly settings: () => RequestLogSettings,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_MS);
    this.pruneTimer.unref();
  }

  record(answered: AnsweredRequest): void {
    this.buffer.push(requestRecord(answered, this.settings().keepRefusedBodies));
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

  /** Cuts the log back to `requests.retentionHours` and `requests.maxRows`. */
  async prune(): Promise<void> {
    const { retentionHours, maxRows } = this.settings();
    try {
      await this.writer.pruneRequests(this.clock() - retentionHours * 3_600_000, maxRows);
    } catch (err) {
      this.logger.warn({ err }, 'request log prune failed');
    }
  }

  /** Writes what is left; the store closes after. */
  close(): Promise<void> {
    clearInterval(this.pruneTimer);
    return this.flush();
  }

  private async write(batch: RequestRecord[]): Promise<void> {
    try {
      await this.writer.recordRequests(batch);
    } catch (err) {
      this.logger.warn({ err, rows: batch.length }, 'request log write failed; retrying with the next batch');
      this.buffer = [...batch, ...this.buffer].slice(-MAX_BUFFERED);
    }
  }
}
