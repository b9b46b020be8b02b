import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { listen, type Listening } from '../helpers/http';

/** One request as the receiver saw it, and whether the reference library accepted its signature. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** The verified payload, or the library's reason for refusing it. */
  verified: { ok: true; payload: unknown } | { ok: false; reason: string };
}

/** What the receiver answers to one request. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * An HTTP endpoint that checks every request with `standardwebhooks` (the specification's
 * reference implementation, not our signer) and answers from a script, then 204 for good.
 */
export class FakeWebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly script: Answer[] = [];

  private constructor(
    private readonly server: Listening,
    private readonly webhook: Webhook,
  ) {}

  static async start(secret: string): Promise<FakeWebhookReceiver> {
    let receiver: FakeWebhookReceiver | undefined;
    const server = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const answer = receiver!.take(req.headers, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      });
    });
    receiver = new FakeWebhookReceiver(server, new Webhook(secret));
    return receiver;
  }

  get url(): string {
    return this.server.url;
  }

  /** The next answers, in order. */
  answer(...answers: Answer[]): void {
    this.script.push(...answers);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private take(headers: IncomingHttpHeaders, body: string): Answer {
    let verified: ReceivedWebhook['verified'];
    try {
      verified = { ok: true, payload: this.webhook.verify(body, headers as Record<string, string>) };
    } catch (err) {
      verified = { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
    this.received.push({ headers, body, verified });
    return this.script.shift() ?? { status: 204 };
  }
}
