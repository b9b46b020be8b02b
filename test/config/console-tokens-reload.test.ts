/**
 * Operator tokens from a Secret (`console.tokensFile`, the chart's existingSecrets.consoleTokens)
 * are reloaded like webhook tokens: a swapped Secret volume adds and removes operators with no
 * restart, on the admin port where the chart serves the console.
 */
import { expect } from 'chai';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigReloader } from '../../src/config/reload';
import { Gateway, loadConfig } from '../../src/gateway';
import { SESSION_COOKIE } from '../../src/console/session';
import { ConsoleClient } from '../console/support';
import { tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { memoryLogger } from '../helpers/logger';

const WEBHOOK = 'webhook-token-5e7a9c1b3d5f';
const ALICE = 'alice-operator-token-2b4d6f8a0c';
const BOB = 'bob-operator-token-9e7c5a3f1d';

/** A Secret volume as the kubelet lays it out, updated by swapping the `..data` symlink. */
function secretVolume(dir: string, name: string, text: string): (next: string) => void {
  let generation = 0;
  const write = (content: string) => {
    const version = `..v${++generation}`;
    mkdirSync(path.join(dir, version), { recursive: true });
    writeFileSync(path.join(dir, version, name), content);
    symlinkSync(version, path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  };
  write(text);
  symlinkSync(path.join('..data', name), path.join(dir, name));
  return write;
}

describe('config: console tokens from a Secret, reloaded', function () {
  this.timeout(30_000);
  let gateway: Gateway | undefined;
  let reloader: ConfigReloader | undefined;
  afterEach(async () => {
    reloader?.stop();
    await gateway?.stop(2000);
  });

  it('lets a new operator in and an old one out once the Secret is swapped', async () => {
    const root = tempDir();
    const swap = secretVolume(path.join(root, 'operators'), 'tokens.yaml', `alice: ${ALICE}\n`);
    const values = path.join(root, 'values.yaml');
    writeFileSync(
      values,
      [
        `tokens: {ci: ${WEBHOOK}}`,
        `console: {enabled: true, tokensFile: ${path.join(root, 'operators', 'tokens.yaml')}}`,
        `delivery: {dir: ${path.join(root, 'store')}}`,
        'server: {port: 0, adminPort: 0}',
      ].join('\n'),
    );
    const log = memoryLogger();
    gateway = await Gateway.start(loadConfig(values, {}), log.logger);
    reloader = new ConfigReloader(values, gateway, log.logger, {}, { debounceMs: 20 });
    reloader.start();
    const admin = `http://127.0.0.1:${gateway.adminPort}`;
    // A failed login is a redirect back to the form; a successful one sets the session cookie.
    const loggedIn = async (token: string) => {
      const client = new ConsoleClient(admin);
      await client.login(token);
      return client.cookie(SESSION_COOKIE) !== undefined;
    };

    expect(await loggedIn(ALICE)).to.equal(true);
    expect(await loggedIn(BOB)).to.equal(false);
    swap(`bob: ${BOB}\n`);
    await waitFor('bob let in after the swap', () => loggedIn(BOB));
    expect(await loggedIn(ALICE)).to.equal(false);
  });
});
