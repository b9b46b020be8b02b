import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requestsCommand, type RequestsOptions } from '../../src/cli/requests';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { settings, tempDir } from '../delivery/support';

describe('requests list', () => {
  let dir: ReturnType<typeof tempDir>;
  let config: string;
  const now = Date.now();

  before(async () => {
    dir = tempDir();
    const store = SqliteStore.open(settings(dir.dir));
    const base = { source: '10.1.2.3', method: 'POST', latencyMs: 2.25 };
    await store.recordRequests([
      {
        ...base,
        receivedAt: now - 3 * 3_600_000,
        path: '/events/harbor',
        status: 202,
        result: 'accepted',
        provider: 'harbor',
        token: 'ci',
        eventIds: ['ev-old'],
      },
      {
        ...base,
        receivedAt: now - 60_000,
        path: '/events/acr/[redacted]',
        status: 401,
        result: 'refused',
        reason: 'unauthorized: the path does not end in a token',
      },
      {
        ...base,
        receivedAt: now - 30_000,
        path: '/events/acr',
        status: 200,
        result: 'ignored',
        reason: 'ACR ping',
        provider: 'acr',
        token: 'ci',
      },
    ]);
    await store.close();
    config = path.join(dir.dir, 'values.yaml');
    writeFileSync(config, `tokens: {ci: requests-cli-token-7f3c1a}\ndelivery: {dir: ${dir.dir}}\n`);
  });

  after(() => dir.cleanup());

  async function run(options: RequestsOptions) {
    const out = { info: [] as string[], error: [] as string[] };
    const code = await requestsCommand('list', config, options, {
      info: (l) => out.info.push(l),
      error: (l) => out.error.push(l),
    });
    return { code, ...out };
  }

  it('lists every request newest first, with its outcome and reason', async () => {
    const { code, info } = await run({});
    expect(code).to.equal(0);
    expect(info[0]).to.match(/^TIME\s+STATUS\s+PROVIDER\s+TOKEN\s+SOURCE\s+PATH\s+MS\s+OUTCOME$/);
    expect(info.slice(1).map((l) => l.split(/\s+/)[1])).to.deep.equal(['200', '401', '202']);
    expect(info[1]).to.include('ignored: ACR ping');
    expect(info[2])
      .to.include('POST /events/acr/[redacted]')
      .and.include('refused: unauthorized: the path does not end');
    expect(info[3]).to.include('accepted ev-old');
  });

  it('filters by status class, provider, token name and time, and prints JSON lines', async () => {
    expect((await run({ status: '4xx' })).info.slice(1).map((l) => l.split(/\s+/)[1])).to.deep.equal(['401']);
    expect((await run({ provider: 'harbor' })).info).to.have.length(2);
    const byToken = await run({ 'token-name': 'ci', since: '1h', json: true });
    expect(byToken.info.map((l) => JSON.parse(l).reason)).to.deep.equal(['ACR ping']);
  });

  it('refuses a filter it cannot read, naming the flag', async () => {
    const bad = await run({ status: '3xx' });
    expect(bad.code).to.equal(2);
    expect(bad.error[0]).to.equal('--status must be 2xx, 4xx or 5xx');
    const since = await run({ since: 'yesterday' });
    expect(since.code).to.equal(2);
    expect(since.error[0]).to.match(/^--since takes an ISO time/);
  });
});
