/**
 * `server.adminPort`: the console and /metrics on a listener of their own, so exposing the
 * webhook port (a LoadBalancer, an Ingress) exposes no operator page; unset, one port serves all.
 */
import { expect } from 'chai';
import axios from 'axios';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseConfig } from '../../src/gateway';
import { ConsoleGateway, WEBHOOK_TOKEN } from '../console/support';
import { REPO_ROOT } from '../helpers/gateway-process';

const push = readFileSync(path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'), 'utf8');

async function status(url: string, init: { method?: string; data?: string } = {}): Promise<number> {
  const res = await axios.request({
    url,
    method: init.method ?? 'GET',
    data: init.data,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${WEBHOOK_TOKEN}` },
    maxRedirects: 0,
    validateStatus: () => true,
  });
  return res.status;
}

describe('server.adminPort', function () {
  this.timeout(20_000);
  let gw: ConsoleGateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('serves webhooks on port and the console and /metrics on adminPort, each refusing the other', async () => {
    gw = await ConsoleGateway.start('  adminPort: 0');
    const { port, adminPort } = gw.gateway;
    expect(adminPort).to.be.a('number').and.not.equal(port);
    const webhooks = `http://127.0.0.1:${port}`;
    const admin = `http://127.0.0.1:${adminPort}`;

    expect(await status(`${webhooks}/events/acr`, { method: 'POST', data: push })).to.equal(202);
    expect(await status(`${webhooks}/metrics`)).to.equal(404);
    expect(await status(`${webhooks}/console/login`)).to.equal(404);

    expect(await status(`${admin}/metrics`)).to.equal(200);
    expect(await status(`${admin}/console/login`)).to.equal(200);
    expect(await status(`${admin}/events/acr`, { method: 'POST', data: push })).to.equal(404);

    for (const base of [webhooks, admin]) {
      expect(await status(`${base}/healthz`), base).to.equal(200);
      expect(await status(`${base}/readyz`), base).to.equal(200);
    }
  });

  it('unset: one port serves webhooks, the console and /metrics, as `make run` has them', async () => {
    gw = await ConsoleGateway.start();
    expect(gw.gateway.adminPort).to.equal(undefined);
    const base = `http://127.0.0.1:${gw.gateway.port}`;
    expect(await status(`${base}/events/acr`, { method: 'POST', data: push })).to.equal(202);
    expect(await status(`${base}/metrics`)).to.equal(200);
    expect(await status(`${base}/console/login`)).to.equal(200);
  });

  it('fails to start with the listener error when the admin port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      let error: unknown;
      try {
        gw = await ConsoleGateway.start(`  adminPort: ${taken}`);
      } catch (err) {
        error = err;
      }
      expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal('EADDRINUSE');
    } finally {
      blocker.close();
    }
  });

  it('refuses the same port for both, saying why', () => {
    expect(() =>
      parseConfig('tokens: {ci: webhook-token-3f9a1c7e5d2b}\nserver: {port: 8080, adminPort: 8080}'),
    ).to.throw('server.adminPort must differ from server.port');
  });
});
