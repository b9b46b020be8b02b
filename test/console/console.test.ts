import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../helpers/wait';
import {
  BRIGADE_TOKEN,
  BROKER_PASSWORD,
  ConsoleClient,
  ConsoleGateway,
  HOSTILE,
  hostileEvent,
  OPERATOR_TOKEN,
  WEBHOOK_TOKEN,
} from './support';

const ACR_PUSH = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'fixtures', 'acr', 'push-tagged.json'), 'utf8'),
) as Record<string, unknown>;

/** The seq of the newest event in the list, read from its detail link. */
function newestSeq(html: string): number {
  const match = /href="\/console\/events\/(\d+)"/.exec(html);
  if (!match) throw new Error('no event in the list');
  return Number(match[1]);
}

describe('operator console (HTTP)', function () {
  this.timeout(30_000);
  let gw: ConsoleGateway;
  let client: ConsoleClient;

  before(async () => {
    gw = await ConsoleGateway.start();
  });
  after(async () => gw.stop());
  beforeEach(() => {
    client = new ConsoleClient(gw.url);
  });

  it('sends a request without a session to the login form, and refuses a POST', async () => {
    for (const page of ['/console/events', '/console/targets', '/console/events/1', '/console/']) {
      const res = await client.get(page);
      expect(res.status, page).to.equal(303);
      expect(res.headers.location).to.equal('/console/login');
    }
    expect((await client.post('/console/actions/replay-target', { emitter: 'log' })).status).to.equal(401);
  });

  it('logs in with an operator token into an HttpOnly, SameSite=Strict cookie with an expiry', async () => {
    const nonce = await client.csrfOn('/console/login');
    const res = await client.post('/console/login', { _csrf: nonce, token: OPERATOR_TOKEN });
    expect(res.status).to.equal(303);
    const cookie = (res.headers['set-cookie'] as string[]).find((c) => c.startsWith('rg_console='))!;
    expect(cookie).to.match(/; Path=\/console; Max-Age=28800; HttpOnly; SameSite=Strict/);
    expect((await client.get('/console/events')).status).to.equal(200);
    expect(gw.log.records.some((r) => r.msg === 'console: operator logged in' && r.operator === 'alice')).to.equal(
      true,
    );
  });

  it('refuses a webhook token, a wrong token, a login without its nonce, and a forged cookie', async () => {
    for (const token of [WEBHOOK_TOKEN, 'x'.repeat(30)]) {
      const res = await client.login(token);
      expect(res.headers.location).to.equal('/console/login?failed=1');
      expect(client.cookie('rg_console')).to.equal(undefined);
    }
    expect((await client.post('/console/login', { token: OPERATOR_TOKEN })).status).to.equal(403);
    await client.login();
    const [payload, signature] = client.cookie('rg_console')!.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, o: 'mallory' })).toString('base64url');
    client.setCookie('rg_console', `${forged}.${signature}`);
    expect((await client.get('/console/events')).status).to.equal(303);
    const expired = Buffer.from(JSON.stringify({ ...claims, e: Date.now() - 1 })).toString('base64url');
    client.setCookie('rg_console', `${expired}.${signature}`);
    expect((await client.get('/console/events')).status).to.equal(303);
  });

  it('refuses a POST without the CSRF token, or with another session’s', async () => {
    await client.login();
    const other = new ConsoleClient(gw.url);
    await other.login();
    const foreign = await other.csrfOn('/console/events');
    const attempts: Record<string, string>[] = [{ emitter: 'knative' }, { emitter: 'knative', _csrf: foreign }];
    for (const fields of attempts) {
      const res = await client.post('/console/actions/replay-target', fields);
      expect(res.status).to.equal(403);
      expect(res.data).to.include('CSRF');
    }
    expect((await client.post('/console/logout', {})).status).to.equal(403);
  });

  it('forbids inline scripts on console pages and keeps helmet’s defaults elsewhere', async () => {
    await client.login();
    const csp = String((await client.get('/console/events')).headers['content-security-policy']);
    expect(csp).to.include("script-src 'self'").and.include("default-src 'none'").and.include("frame-ancestors 'none'");
    expect(csp).to.not.include('unsafe-inline');
    const elsewhere = String((await client.get('/healthz')).headers['content-security-policy']);
    expect(elsewhere).to.include("default-src 'self'").and.include("script-src-attr 'none'");
    const page = (await client.get('/console/events')).data;
    expect(page).to.not.match(/<script>|<script [^>]*>[^<]/);
    expect(page).to.not.match(/ on[a-z]+=/);
  });

  it('escapes every string an event carries, on the list and the detail page', async () => {
    await client.login();
    const [script, img] = HOSTILE;
    await gw.gateway.store.accept([{ event: hostileEvent('hostile'), emitters: ['log'] }]);
    const list = (await client.get(`/console/events?repo=${encodeURIComponent(`team/${script}`)}`)).data;
    const detail = (await client.get(`/console/events/${newestSeq(list)}`)).data;
    for (const html of [list, detail]) {
      expect(html).to.not.include(script);
      expect(html).to.not.include(img);
      expect(html).to.not.include('<img');
    }
    expect(detail).to.include('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    expect(detail).to.include('&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;');
  });

  it('shows the parts a tagged push absorbed, its kind, platforms and tag change', async () => {
    await client.login();
    const part = `sha256:${'d'.repeat(64)}`;
    await gw.gateway.store.accept([
      {
        event: {
          ...hostileEvent('x'),
          id: 'part-of-push',
          registry: 'reg.example.com',
          repo: 'team/multi',
          tag: undefined,
          digest: part,
        },
        emitters: ['log'],
      },
    ]);
    await gw.gateway.store.accept([
      {
        event: {
          ...hostileEvent('x'),
          id: 'tagged-push',
          registry: 'reg.example.com',
          repo: 'team/multi',
          tag: 'v1',
          digest: `sha256:${'e'.repeat(64)}`,
          kind: 'index',
          platforms: ['linux/amd64', 'linux/arm64'],
        },
        emitters: ['log'],
      },
    ]);
    const detail = (
      await client.get(`/console/events/${newestSeq((await client.get('/console/events?id=tagged-push')).data)}`)
    ).data;
    expect(detail).to.include('Parts absorbed (1)');
    expect(detail).to.include(part);
    expect(detail).to.include('linux/amd64, linux/arm64');
    expect(detail).to.match(/<span>created<\/span>/);
  });

  it('shows the attempts, the routing and what was sent, and never a token or target credential', async () => {
    await client.login();
    gw.broker.respondWith(400);
    const body = { ...ACR_PUSH, id: 'failing-push-1' };
    expect((await gw.postAcr(body)).status).to.equal(202);
    const seq = newestSeq((await client.get('/console/events?id=failing-push-1')).data);
    const detail = await waitFor('the knative delivery to be dead-lettered', async () => {
      const html = (await client.get(`/console/events/${seq}`)).data;
      return html.includes('knative sink answered 400') && html.includes('state-dead') ? html : undefined;
    });
    expect(detail).to.include('filter.types does not list push');
    expect(detail).to.include('ce-type: sh.brigade.acr.push');
    expect(detail).to.include(`POST ${gw.broker.url}`);
    const pages = [detail, (await client.get('/console/targets')).data, (await client.get('/console/events')).data];
    for (const html of pages) {
      for (const secret of [WEBHOOK_TOKEN, OPERATOR_TOKEN, BRIGADE_TOKEN, BROKER_PASSWORD])
        expect(html).to.not.include(secret);
    }
    gw.broker.respondWith(undefined);
  });

  it('replays a dead event after a confirmation page, logging who did it', async () => {
    await client.login();
    gw.broker.respondWith(400);
    await gw.postAcr({ ...ACR_PUSH, id: 'replayed-push-1' });
    const seq = newestSeq((await client.get('/console/events?id=replayed-push-1')).data);
    await waitFor('dead-letter', async () => (await client.get(`/console/events/${seq}`)).data.includes('state-dead'));
    gw.broker.respondWith(undefined);

    const confirm = await client.get(`/console/actions/replay-event?seq=${seq}`);
    expect(confirm.data).to.include('Replay 1 delivery of event replayed-push-1');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(confirm.data)![1];
    const done = await client.post('/console/actions/replay-event', { _csrf: csrf, seq: String(seq) });
    expect(done.status).to.equal(303);
    expect(done.headers.location).to.equal(`/console/events/${seq}?done=replayed&n=1`);
    await waitFor(
      'the replayed delivery to go out',
      async () => !(await client.get(`/console/events/${seq}?fragment=1`)).data.match(/state-(dead|pending)/),
    );
    const logged = gw.log.records.find((r) => r.action === 'replay-event');
    expect(logged).to.include({ operator: 'alice', seq, eventId: 'replayed-push-1', deliveries: 1 });
  });
});
