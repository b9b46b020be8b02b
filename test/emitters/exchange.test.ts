import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ANSWER_BODY_BYTES, recordExchanges } from '../../src/emitters/exchange';
import { HIDDEN_CREDENTIAL } from '../../src/emitters/preview';
import { createWebhookEmitters, type WebhookEmitter } from '../../src/emitters/webhook';
import { makeEvent } from '../delivery/support';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const API_KEY = 'api-key-value-7c1e9b';
const QUERY_TOKEN = 'query-token-value-2f8a';

describe('attempt exchanges (what a target was sent and answered)', () => {
  let receiver: FakeWebhookReceiver;
  let emitter: WebhookEmitter;

  beforeEach(async () => {
    receiver = await FakeWebhookReceiver.start(secret);
    const url = receiver.url.replace('http://', 'http://user:url-password@') + `/in?token=${QUERY_TOKEN}&team=web`;
    [emitter] = createWebhookEmitters({
      endpoints: [
        {
          name: 'ci',
          url,
          secret,
          headers: { 'X-Api-Key': API_KEY, 'X-Team': 'web' },
          format: 'event',
          mode: 'binary',
          timeoutSeconds: 5,
        },
      ],
    });
  });
  afterEach(async () => {
    await emitter.close();
    await receiver.close();
  });

  it('records the request with every credential hidden and the answer with the start of its body', async () => {
    const body = `<script>alert(1)</script>${'x'.repeat(ANSWER_BODY_BYTES)}`;
    receiver.answer({ status: 503, headers: { 'Retry-After': '7', 'Set-Cookie': 'sid=abc' }, body });
    const { result, exchanges } = recordExchanges(() => emitter.deliver(makeEvent('e1')));
    await result.catch(() => undefined);

    expect(exchanges).to.have.length(1);
    const [{ request, answer }] = exchanges;
    expect(request.method).to.equal('POST');
    expect(request.url).to.not.include('url-password');
    expect(request.url).to.not.include(QUERY_TOKEN);
    expect(request.url).to.include('team=web');
    expect(request.headers['X-Api-Key']).to.equal(HIDDEN_CREDENTIAL);
    expect(request.headers['webhook-signature']).to.equal(HIDDEN_CREDENTIAL);
    expect(request.headers['X-Team']).to.equal('web');
    expect(request.headers['webhook-id']).to.equal('e1');
    expect(JSON.stringify(exchanges)).to.not.include(API_KEY);
    // The receiver did get the real values: only the record hides them.
    expect(receiver.received[0].headers['x-api-key']).to.equal(API_KEY);

    expect(answer?.status).to.equal(503);
    expect(answer?.headers['retry-after']).to.equal('7');
    expect(answer?.headers['set-cookie']).to.equal(HIDDEN_CREDENTIAL);
    expect(answer?.body).to.equal(body.slice(0, ANSWER_BODY_BYTES));
    expect(answer?.truncated).to.equal(true);
  });

  it('records a request that got no answer with the reason it got none', async () => {
    await receiver.close();
    const { result, exchanges } = recordExchanges(() => emitter.deliver(makeEvent('e2')));
    await result.catch(() => undefined);
    expect(exchanges).to.have.length(1);
    expect(exchanges[0].answer).to.equal(undefined);
    expect(exchanges[0].error).to.match(/ECONNREFUSED/);
    receiver = await FakeWebhookReceiver.start(secret);
  });

  it('keeps concurrent attempts on one client apart', async () => {
    const runs = ['a', 'b', 'c'].map((id) => recordExchanges(() => emitter.deliver(makeEvent(id))));
    await Promise.all(runs.map((r) => r.result));
    expect(runs.map((r) => r.exchanges.map((x) => x.request.headers['webhook-id']))).to.deep.equal([
      ['a'],
      ['b'],
      ['c'],
    ]);
  });
});
