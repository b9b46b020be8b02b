import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { healthOf } from '../../src/console/health';
import { FixedWindows, LOGINS_PER_OPERATOR, REFUSED_PER_ADDRESS } from '../../src/console/login-throttle';
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

  it('replays every dead delivery the events filter shows, with the count on the confirmation page', async () => {
    await client.login();
    gw.broker.respondWith(400);
    for (const id of ['bulk-1', 'bulk-2']) await gw.postAcr({ ...ACR_PUSH, id });
    // Asked of the store: the events page echoes its filter, so `bulk-2` is on it either way.
    for (const eventId of ['bulk-1', 'bulk-2']) {
      await waitFor(`${eventId} dead-lettered`, async () => (await gw.gateway.store.deadIds({ eventId })).length === 1);
    }
    gw.broker.respondWith(undefined);

    const list = (await client.get('/console/events?id=bulk-1')).data;
    expect(list).to.include('/console/actions/replay-filter?id=bulk-1');
    const confirm = await client.get('/console/actions/replay-filter?id=bulk-1');
    expect(confirm.data).to.include('Replay 1 delivery: every dead delivery of the events matching id = bulk-1?');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(confirm.data)![1];
    expect(confirm.data).to.include('name="id" value="bulk-1"');
    const done = await client.post('/console/actions/replay-filter', { _csrf: csrf, id: 'bulk-1' });
    expect(done.headers.location).to.equal('/console/events?id=bulk-1&done=replayed&n=1');
    expect((await client.get(done.headers.location as string)).data).to.include('Replayed 1 delivery');
    // The other event, outside the filter, stays dead.
    expect(await gw.gateway.store.deadIds({ eventId: 'bulk-2' })).to.have.length(1);
  });
});

describe('operator console login throttle (HTTP)', function () {
  this.timeout(30_000);
  let gw: ConsoleGateway;

  before(async () => {
    gw = await ConsoleGateway.start();
  });
  after(async () => gw.stop());

  it('answers 429 with Retry-After to an operator logging in too often, then to an address guessing', async () => {
    const client = new ConsoleClient(gw.url);
    for (let i = 0; i < LOGINS_PER_OPERATOR.limit; i++) expect((await client.login()).status).to.equal(303);
    const tooOften = await client.login();
    expect(tooOften.status).to.equal(429);
    expect(Number(tooOften.headers['retry-after'])).to.be.within(1, LOGINS_PER_OPERATOR.windowMs / 1000);
    expect(tooOften.data).to.include('Too many logins as alice.');
    expect(tooOften.headers['set-cookie'] ?? []).to.not.satisfy((c: string[]) =>
      c.some((x) => x.startsWith('rg_console=')),
    );

    const guesser = new ConsoleClient(gw.url);
    for (let i = 0; i < REFUSED_PER_ADDRESS.limit; i++) {
      expect((await guesser.login(`wrong-token-${i}-${'x'.repeat(20)}`)).headers.location).to.equal(
        '/console/login?failed=1',
      );
    }
    // Over the limit, even the right token is refused from this address: guessing learns nothing.
    const refused = await guesser.login(OPERATOR_TOKEN);
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, REFUSED_PER_ADDRESS.windowMs / 1000);
    expect(refused.data).to.include('Too many refused login attempts from this address.');
    const logged = JSON.stringify(gw.log.records);
    expect(logged).to.include('console: login throttled');
    expect(logged).to.not.include(OPERATOR_TOKEN);
    expect(logged).to.not.include('wrong-token-');
  });
});

describe('login throttle windows', () => {
  it('lets `limit` hits through per window and key, then says how long to wait', () => {
    const windows = new FixedWindows(2, 1000, 3);
    windows.hit('a', 0);
    expect(windows.blockedFor('a', 10)).to.equal(0);
    windows.hit('a', 10);
    expect(windows.blockedFor('a', 400)).to.equal(600);
    expect(windows.blockedFor('b', 400)).to.equal(0);
    expect(windows.blockedFor('a', 1000)).to.equal(0);
    windows.hit('a', 1000);
    expect(windows.blockedFor('a', 1001)).to.equal(0);
    // Bounded: a flood of addresses evicts the oldest windows rather than growing without end.
    for (const key of ['b', 'c', 'd', 'e']) {
      windows.hit(key, 1100);
      windows.hit(key, 1100);
    }
    expect(windows.blockedFor('e', 1100)).to.be.greaterThan(0);
    expect(windows.blockedFor('a', 1100)).to.equal(0);
  });
});

describe('target health words', () => {
  const now = 1_000_000;
  const recent = 5 * 60_000;
  const base = { emitter: 'knative', pending: 0, dead: 0, delivered: 10, deliveredRecently: 1 };
  const failed = { message: 'knative sink answered 503', at: now - 60_000, status: 503 };

  it('says down (probing) while the circuit is open, whatever else is true', () => {
    const open = { state: 'open', since: now - 1000 };
    expect(healthOf({ ...base, circuit: open, lastSuccess: now }, now, recent).word).to.equal('down (probing)');
  });

  it('says recovering when the target answers again after recent failures and the backlog drains', () => {
    const t = {
      ...base,
      pending: 40,
      lastError: failed,
      lastSuccess: now - 1000,
      circuit: { state: 'closed', since: 0 },
    };
    expect(healthOf(t, now, recent)).to.include({ word: 'recovering', tone: 'pending' });
    // Backlog gone, or the failures long past: plain delivering.
    expect(healthOf({ ...t, pending: 0 }, now, recent)).to.include({ word: 'delivering', tone: 'delivered' });
    expect(healthOf(t, now + recent, recent)).to.include({ word: 'delivering', tone: 'delivered' });
  });

  it('says delivering, with its retries noted, when rows wait on a backoff after the latest failure', () => {
    const t = { ...base, pending: 2, lastError: failed, lastSuccess: now - 120_000 };
    expect(healthOf(t, now, recent)).to.include({ word: 'delivering', tone: 'pending' });
    expect(healthOf(base, now, recent)).to.deep.equal({ word: 'delivering', tone: 'delivered' });
  });
});
