import { createHmac } from 'node:crypto';
import type { RegistryEvent } from '../model/event';
import { answerFailure, bodyExcerpt, HTTP_RECEIVER_POLICY, TargetClient, transportFailure } from './http';
import { HIDDEN_CREDENTIAL, prettyJson, withoutUserInfo, type TargetRequest } from './preview';

/**
 * The `X-Signature` a Flux `Receiver` of type `generic-hmac` checks: `sha256=` and the hex
 * HMAC-SHA256 of the body, keyed with the token in the Receiver's secret.
 */
export function genericHmacSignature(token: string, body: string): string {
  return `sha256=${createHmac('sha256', token).update(body, 'utf8').digest('hex')}`;
}

/**
 * Posts each event to a Flux notification-controller Receiver, which then reconciles the objects
 * its `resources` list: for clusters where the gateway has no Kubernetes API access. The Receiver
 * chooses what to reconcile, so every accepted event is one request.
 */
export class FluxReceiver {
  private readonly client: TargetClient;

  constructor(
    private readonly url: string,
    private readonly token: string,
    timeoutSeconds: number,
  ) {
    this.client = new TargetClient({ timeoutSeconds, responseType: 'text' });
  }

  async deliver(event: RegistryEvent): Promise<void> {
    const { headers, body } = this.request(event);
    let response;
    try {
      response = await this.client.http.post(this.url, body, { headers });
    } catch (err) {
      throw transportFailure(err, (reason) => `flux receiver unreachable: ${reason}`, HTTP_RECEIVER_POLICY);
    }
    if (response.status >= 200 && response.status < 300) return;
    const excerpt = bodyExcerpt(response.data);
    throw answerFailure(
      `flux receiver answered ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
      { status: response.status, headers: response.headers },
      HTTP_RECEIVER_POLICY,
    );
  }

  preview(event: RegistryEvent): TargetRequest[] {
    const { headers, body } = this.request(event);
    return [
      {
        title: 'Event to a Flux Receiver (generic-hmac)',
        method: 'POST',
        url: withoutUserInfo(this.url),
        headers: { ...headers, 'X-Signature': `sha256=${HIDDEN_CREDENTIAL}` },
        body: prettyJson(body),
      },
    ];
  }

  close(): void {
    this.client.close();
  }

  private request(event: RegistryEvent): { headers: Record<string, string>; body: string } {
    const body = JSON.stringify(event);
    return {
      headers: { 'Content-Type': 'application/json', 'X-Signature': genericHmacSignature(this.token, body) },
      body,
    };
  }
}
