import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DeliveryThread } from '../../src/runtime/delivery-thread';
import { REPO_ROOT } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import axios from 'axios';
import { BROKER_PASSWORD, ConsoleGateway, HOSTILE, hostileEvent, OPERATOR_TOKEN, WEBHOOK_TOKEN } from './support';

/** Debian's Chromium (`make system-deps` installs it); playwright-core brings no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Test artifacts, gitignored: one screenshot per page, for a person to look at. */
export const SCREENSHOTS = path.join(REPO_ROOT, 'test-artifacts', 'console');

const ACR_PUSH = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'fixtures', 'acr', 'push-tagged.json'), 'utf8'),
) as Record<string, unknown>;

describe('operator console (in Chromium)', function () {
  this.timeout(90_000);
  let gw: ConsoleGateway;
  let browser: Browser;
  let page: Page;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      // CI installs it through `make test`; only a bare `mocha` run on a machine without it skips.
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: run make system-deps`);
      this.skip();
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    gw = await ConsoleGateway.start();
    // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
  });
  beforeEach(async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    // A hostile string that ran would call alert or set this; neither may happen.
    page.on('dialog', () => {
      throw new Error('a dialog opened: a payload string ran as script');
    });
  });
  afterEach(async () => page.context().close());

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

  async function logIn(): Promise<void> {
    await page.goto(`${gw.url}/console/events`);
    expect(new URL(page.url()).pathname).to.equal('/console/login');
    await shot('login');
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL('**/console/events');
  }

  it('sends a browser without a session to the login form', async () => {
    await page.goto(`${gw.url}/console/targets`);
    expect(new URL(page.url()).pathname).to.equal('/console/login');
    expect(await page.textContent('h1')).to.equal('Operator console');
  });

  it('logs in, sees a posted event appear live, its failed attempt, replays it and sees it delivered', async () => {
    await logIn();
    for (const [n, tag] of ['v2.3.0', 'v2.2.9'].entries()) {
      await gw.postAcr({
        ...ACR_PUSH,
        id: `browser-push-earlier-${n}`,
        target: { ...(ACR_PUSH.target as object), tag },
      });
    }
    await waitFor('the earlier pushes to be delivered', () => gw.broker.received.length >= 2);
    gw.broker.respondWith(400);
    await gw.postAcr({ ...ACR_PUSH, id: 'browser-push-1' });
    // The list refreshes itself (live.js): no reload.
    const link = page.locator('a', { hasText: 'browser-push-1' });
    await link.waitFor({ timeout: 15_000 });
    await page
      .locator('#event-rows tr', { hasText: 'browser-push-1' })
      .locator('.state-dead')
      .waitFor({ timeout: 15_000 });
    await shot('events');

    await link.click();
    await page.locator('.attempt-error', { hasText: 'knative sink answered 400' }).first().waitFor();
    await shot('event-detail');

    gw.broker.respondWith(undefined);
    await page.click('a.button:has-text("Replay")');
    expect(await page.textContent('main p')).to.include('Replay 1 delivery of event browser-push-1');
    await shot('confirm-replay');
    await page.click('main button[type=submit]');
    await page.locator('.notice', { hasText: 'Replayed 1 delivery' }).waitFor();
    await page.locator('#deliveries .state-delivered').first().waitFor({ timeout: 15_000 });
    expect(gw.broker.received.map((e) => e.attributes.id)).to.include('browser-push-1');

    await page.click('nav a:has-text("Targets")');
    await page.locator('#target-rows', { hasText: 'knative' }).waitFor();
    await shot('targets');
  });

  it('refuses a POST without the CSRF token', async () => {
    await logIn();
    const status = await page.evaluate(async () => {
      const res = await fetch('/console/actions/replay-target', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'emitter=knative',
      });
      return res.status;
    });
    expect(status).to.equal(403);
  });

  it('renders hostile payload strings as text', async () => {
    await logIn();
    await gw.gateway.store.accept([{ event: hostileEvent('browser-hostile'), emitters: ['knative'] }]);
    const link = page.locator('a', { hasText: 'browser-hostile' });
    await link.waitFor({ timeout: 15_000 });
    await link.click();
    await page.locator('#payload').waitFor();
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).to.equal(undefined);
    expect(await page.locator('img').count()).to.equal(0);
    const text = await page.textContent('main');
    for (const hostile of HOSTILE) expect(text).to.include(hostile);
    await shot('event-hostile');
  });

  it('lists a 401, a 400 and an ignored ping with their reasons, and links an accepted request to its event', async () => {
    await logIn();
    // The path form with a bearer-only token: refused, and the token in the path is never kept.
    const unauthorized = await axios.post(`${gw.url}/events/acr/${WEBHOOK_TOKEN}`, ACR_PUSH, {
      validateStatus: () => true,
    });
    expect(unauthorized.status).to.equal(401);
    const bad = await axios.post(`${gw.url}/events/acr`, '{"action": ', {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${WEBHOOK_TOKEN}` },
      validateStatus: () => true,
    });
    expect(bad.status).to.equal(400);
    expect((await gw.postAcr({ ...ACR_PUSH, action: 'ping' })).status).to.equal(200);
    expect((await gw.postAcr({ ...ACR_PUSH, id: 'browser-request-accepted' })).status).to.equal(202);

    await page.click('nav a:has-text("Requests")');
    const rows = page.locator('#request-rows tr.request');
    // The page refreshes itself (live.js) as the batched rows reach the store.
    await rows.filter({ hasText: 'browser-request-accepted' }).waitFor({ timeout: 15_000 });
    const row = (status: number) => rows.filter({ has: page.locator('.status', { hasText: String(status) }) });
    expect(await row(401).first().locator('.reason').textContent()).to.match(/^unauthorized: /);
    expect(await row(401).first().textContent()).to.include('/events/acr/[redacted]');
    // The path names the registry, so the row does, though the 401 proved no token.
    expect(await row(401).first().locator('.provider').textContent()).to.equal('acr');
    expect(await row(400).first().locator('.reason').textContent()).to.match(/^rejected: /);
    expect(await rows.filter({ hasText: 'ACR ping' }).first().locator('.result').textContent()).to.equal('ignored');
    expect(await page.textContent('main')).not.to.include(WEBHOOK_TOKEN);
    await shot('requests');

    await page.selectOption('select[name=status]', '4xx');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/\/console\/requests\?status=4xx/);
    expect(await rows.locator('.status').allTextContents()).to.satisfy((s: string[]) =>
      s.every((t) => t.startsWith('4')),
    );

    await page.goto(`${gw.url}/console/requests`);
    await rows.filter({ hasText: 'browser-request-accepted' }).locator('a').click();
    await page.waitForURL(/\/console\/events\/\d+$/);
    expect(await page.textContent('h1')).to.include('browser-request-accepted');
  });

  it('labels probes, shows what a down target answered as text, and says it is down (probing), then delivering', async () => {
    await logIn();
    const hostileAnswer = `proxy says: ${HOSTILE.join(' ')}`;
    gw.broker.respondWith(503, hostileAnswer);
    const ids = ['probed-1', 'probed-2', 'probed-3'];
    const target = ACR_PUSH.target as object;
    await Promise.all(ids.map((id) => gw.postAcr({ ...ACR_PUSH, id, target: { ...target, tag: id } })));

    await page.goto(`${gw.url}/console/targets`);
    const knative = page.locator('#target-rows tr', { hasText: 'knative' });
    await knative.locator('.health', { hasText: 'down (probing)' }).waitFor({ timeout: 20_000 });
    const row = (await knative.textContent()) ?? '';
    expect(row).to.include(gw.broker.url);
    expect(row).to.not.include(BROKER_PASSWORD);
    expect(await page.textContent('#retry-settings')).to.include('up to 2 attempts per delivery');
    await shot('targets-down');

    // The event whose row the circuit probed: any pending row answers "is the target back?".
    const probed = await waitFor('a failed probe in the history', async () => {
      for (const listed of (await gw.gateway.store.listEvents({ limit: 20 })).events) {
        const detail = await gw.gateway.store.eventDetail(listed.seq);
        if (ids.includes(listed.id) && detail?.attempts.some((a) => a.probe && a.counted === false)) return listed;
      }
      return undefined;
    });
    await page.goto(`${gw.url}/console/events/${probed.seq}`);
    await page.locator('.attempt .label.probe').first().waitFor();
    expect(await page.textContent('#deliveries tbody tr')).to.match(/\+ \d+ probes?/);
    await page.locator('details.exchanges summary').first().click();
    expect(await page.locator('pre.answer-body').first().textContent()).to.equal(hostileAnswer);
    expect(await page.locator('pre.answer').first().textContent()).to.match(/^HTTP 503/);
    expect(await page.locator('pre.request').first().textContent()).to.match(/^POST http:\/\/127\.0\.0\.1:/);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).to.equal(undefined);
    expect(await page.locator('img').count()).to.equal(0);
    expect(await page.content()).to.not.include(BROKER_PASSWORD);
    await shot('event-attempt-answer');

    gw.broker.respondWith(undefined);
    await page.goto(`${gw.url}/console/targets`);
    await knative.locator('.health', { hasText: /^delivering$/ }).waitFor({ timeout: 20_000 });
    expect(await knative.locator('td.mono').first().textContent()).to.match(/^\d{4}-\d\d-\d\d /);
  });
});

describe('operator console actions (in Chromium)', function () {
  this.timeout(90_000);
  let gw: ConsoleGateway;
  let browser: Browser;
  let page: Page;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: run make system-deps`);
      this.skip();
    }
    // A retry waits a day (with jitter): only "retry now" makes a failed delivery go again soon.
    gw = await ConsoleGateway.start('', { maxAttempts: 5, initialBackoffSeconds: 86_400, maxBackoffSeconds: 172_800 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('retries a pending delivery now, then sends the delivered event again as a new delivery', async () => {
    gw.broker.failNext(503);
    await gw.postAcr({ ...ACR_PUSH, id: 'retry-now-1' });
    const [listed] = (await gw.gateway.store.listEvents({ eventId: 'retry-now-1' })).events;
    const pending = await waitFor('the first attempt to fail', async () => {
      const [row] = (await gw.gateway.store.eventDetail(listed.seq))!.deliveries;
      return row.state === 'pending' && row.attempts === 1 ? row : undefined;
    });
    expect(pending.nextAttemptAt - Date.now(), 'the backoff left the row waiting').to.be.greaterThan(60_000);

    await page.goto(`${gw.url}/console/events/${listed.seq}`);
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('button[type=submit]');
    // Delivery runs in its worker thread: the console wakes it through the thread's port, so the
    // row goes now rather than at the worker's next look at the store.
    const delivery = (gw.gateway as unknown as { delivery: DeliveryThread }).delivery;
    expect(delivery).to.be.instanceOf(DeliveryThread);
    let wakes = 0;
    const notify = delivery.notify.bind(delivery);
    delivery.notify = (emitters) => {
      wakes++;
      notify(emitters);
    };
    await page.goto(`${gw.url}/console/events/${listed.seq}`);
    await page.click('#deliveries a.button:has-text("Retry now")');
    expect(await page.textContent('main p')).to.include('Retry 1 delivery of event retry-now-1 to knative now');
    await page.click('main button[type=submit]');
    await page.locator('.notice', { hasText: 'Retrying 1 delivery now.' }).waitFor();
    expect(wakes, 'retry now woke the delivery worker').to.equal(1);
    await page.locator('#deliveries .state-delivered').first().waitFor({ timeout: 15_000 });
    const sent = () => gw.broker.received.filter((e) => e.attributes.id === 'retry-now-1').length;
    expect(sent()).to.equal(1);

    await page.click('#deliveries a.button:has-text("Send again")');
    expect(await page.textContent('main p')).to.include('Send event retry-now-1 again to knative?');
    await page.click('main button[type=submit]');
    await page.locator('.notice', { hasText: 'Sending again: 1 delivery made' }).waitFor();
    expect(wakes, 'send again woke the delivery worker').to.equal(2);
    await waitFor('the event to reach the broker a second time', () => sent() === 2);
    await page.locator('#deliveries .note', { hasText: 'sent again by alice' }).waitFor({ timeout: 15_000 });
    await page.locator('#deliveries .state-delivered').nth(1).waitFor({ timeout: 15_000 });
    const detail = (await gw.gateway.store.eventDetail(listed.seq))!;
    expect(detail.deliveries.map((d) => [d.state, d.attempts, d.note])).to.deep.equal([
      ['delivered', 2, undefined],
      ['delivered', 1, 'sent again by alice'],
    ]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'event-sent-again.png'), fullPage: true });
  });
});
