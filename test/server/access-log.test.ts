/**
 * The access log: one line per request, at info for what an operator reads the log for, and at
 * debug for the kubelet's probes and Prometheus's scrapes, which otherwise fill it every minute.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { parseConfig } from '../../src/gateway';
import { startEdge, type Edge } from '../helpers/edge';
import { REPO_ROOT } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { post } from '../helpers/http';

const TOKEN = 'access-log-token-3a5c7e9b1d';
const ACR_PUSH = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'), 'utf8'));

describe('server/access log', () => {
  let edge: Edge;
  let ready: string | undefined;
  beforeEach(async () => {
    ready = undefined;
    edge = await startEdge({ config: parseConfig(`tokens: {ci: ${TOKEN}}`), notReadyReason: () => ready });
  });
  afterEach(() => edge.close());

  it('logs probes and scrapes at debug, a failing probe and any other request at info', async () => {
    await axios.get(`${edge.url}/healthz`);
    await axios.head(`${edge.url}/readyz`);
    await axios.get(`${edge.url}/metrics`);
    ready = 'shutting down';
    await axios.get(`${edge.url}/readyz`, { validateStatus: () => true });
    await axios.get(`${edge.url}/healthz/extra`, { validateStatus: () => true });
    await post(`${edge.url}/events`, ACR_PUSH, { Authorization: `Bearer ${TOKEN}` });
    // The events request finished last, so every access line is written once its own is.
    const access = () => edge.log.records.filter((r) => r.msg === 'request');
    await waitFor('the access line of the last request', () => access().some((r) => r.path === '/events'));
    expect(access().map((r) => [r.method, r.path, r.status, r.level])).to.deep.equal([
      ['GET', '/healthz', 200, 20],
      ['HEAD', '/readyz', 200, 20],
      ['GET', '/metrics', 200, 20],
      ['GET', '/readyz', 503, 30],
      ['GET', '/healthz/extra', 404, 30],
      ['POST', '/events', 202, 30],
    ]);
  });
});
