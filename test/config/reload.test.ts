/**
 * Hot reload: the tokens file and the values file change on disk the way a Secret volume
 * changes (a new directory, then an atomic swap of the `..data` symlink), and the running
 * gateway takes the live keys over without a restart, without dropping a request, and keeps
 * its config when the new files are bad. In-process for timing control, and once with the real
 * process for the watcher and SIGHUP wiring in `serve`.
 */
import { expect } from 'chai';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/gateway';
import {
  ConfigReloader,
  LIVE_KEYS,
  restartKeysChanged,
  tokenChanges,
  type ReloadTiming,
} from '../../src/config/reload';
import { Gateway } from '../../src/gateway';
import { freePort, GatewayProcess, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { memoryLogger } from '../helpers/logger';

const KEEP = 'keep-token-7c1d9e2f4a6b8c0d';
const OLD = 'old-token-3e5a7c9b1d2f4e6a';
const NEW = 'new-token-8b0d2f4a6c8e0a2c';
const SCOPED = 'scoped-token-1f3e5d7c9b0a2e4d';
const THIRD = 'third-token-6d4b2f0e8c6a4e2b';
const PING = JSON.stringify({
  id: 'd3a7e3a0-5d8e-4d7e-8a43-2f1c9b0e7a55',
  timestamp: '2026-11-20T09:00:00Z',
  action: 'ping',
});

/** A Secret volume as the kubelet lays it out: files are symlinks into `..data`. */
class SecretVolume {
  private generation = 0;
  constructor(
    readonly dir: string,
    files: Record<string, string>,
  ) {
    mkdirSync(dir, { recursive: true });
    this.write(files);
    for (const name of Object.keys(files)) symlinkSync(path.join('..data', name), path.join(dir, name));
  }

  /** What the kubelet does on an update: write a new directory, swap `..data` in one rename. */
  write(files: Record<string, string>): void {
    const version = `..v${++this.generation}`;
    mkdirSync(path.join(this.dir, version));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(this.dir, version, name), text);
    symlinkSync(version, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }
}

function valuesYaml(storeDir: string, tokensFile: string, extra = ''): string {
  return `tokens:\n  scoped: {providers: [acr]}\ntokensFile: ${tokensFile}\ndelivery: {dir: ${storeDir}}\nserver: {port: 0}\n${extra}`;
}

async function ping(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/events/acr`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: PING,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('config/reload', function () {
  this.timeout(60_000);

  describe('in process', () => {
    let gateway: Gateway | undefined;
    let reloader: ConfigReloader | undefined;
    afterEach(async () => {
      reloader?.stop();
      await gateway?.stop(2000);
      gateway = reloader = undefined;
    });

    async function start(timing: Partial<ReloadTiming> = { debounceMs: 20 }) {
      const root = tempDir();
      const tokens = new SecretVolume(path.join(root, 'tokens'), {
        'tokens.yaml': `keep: ${KEEP}\nold: ${OLD}\nscoped: ${SCOPED}\n`,
      });
      const config = new SecretVolume(path.join(root, 'config'), {
        'values.yaml': valuesYaml(path.join(root, 'store'), tokens.file('tokens.yaml')),
      });
      const log = memoryLogger();
      gateway = await Gateway.start(loadConfig(config.file('values.yaml'), {}), log.logger);
      reloader = new ConfigReloader(config.file('values.yaml'), gateway, log.logger, {}, timing);
      reloader.start();
      return { tokens, config, log, url: `http://127.0.0.1:${gateway.port}`, root };
    }

    it('takes a rotated token from a swapped tokens Secret, dropping no request while it does', async () => {
      const { tokens, log, url } = await start();
      expect(await ping(url, OLD)).to.equal(200);
      expect(await ping(url, NEW)).to.equal(401);

      // Requests with the token both sets hold keep flowing through the swap: none may fail.
      let stop = false;
      const statuses: (number | string)[] = [];
      const traffic = (async () => {
        while (!stop) {
          const batch = await Promise.allSettled(Array.from({ length: 8 }, () => ping(url, KEEP)));
          for (const r of batch) statuses.push(r.status === 'fulfilled' ? r.value : String(r.reason));
        }
      })();
      await waitFor('requests before the swap', () => statuses.length >= 16);
      tokens.write({ 'tokens.yaml': `keep: ${KEEP}\nnew: ${NEW}\nscoped: ${SCOPED}\n` });
      await waitFor('the reload log line', () => log.text().includes('"msg":"config reloaded"'), 10_000);
      // Requests sent after the swap, not only during it, must be answered with the new set too.
      const atReload = statuses.length;
      await waitFor('requests after the swap', () => statuses.length >= atReload + 16);
      stop = true;
      await traffic;

      expect(statuses.length).to.be.at.least(32);
      expect(
        statuses.filter((s) => s !== 200),
        'requests during the reload',
      ).to.deep.equal([]);
      expect(await ping(url, NEW)).to.equal(200);
      expect(await ping(url, OLD)).to.equal(401);
      const reloaded = log.records.find((r) => r.msg === 'config reloaded')!;
      expect(reloaded).to.deep.include({ reason: 'file change', tokensAdded: ['new'], tokensRemoved: ['old'] });
      expect(reloaded).to.not.have.property('tokensChanged');
      expect(log.text()).to.not.include(NEW);
      expect(log.text()).to.not.include(OLD);
    });

    it('reloads within its maximum wait while a file in the watched directory never stops changing', async () => {
      // A debounce this long would never fire under writes every 20 ms: only the maximum wait
      // can bring the rotated token in while the churn goes on. No timer re-read either.
      const { tokens, log, url } = await start({ debounceMs: 5_000, maxWaitMs: 300, rereadMs: 0 });
      const churn = path.join(tokens.dir, 'churn.log');
      let writes = 0;
      const writer = setInterval(() => writeFileSync(churn, String(++writes)), 20);
      try {
        await waitFor('the churn to start', () => writes > 5);
        tokens.write({ 'tokens.yaml': `keep: ${KEEP}\nnew: ${NEW}\nscoped: ${SCOPED}\n` });
        await waitFor('the rotated token, during the churn', async () => (await ping(url, NEW)) === 200, 4_000);
        const during = writes;
        await waitFor('the churn to go on after the reload', () => writes > during);
      } finally {
        clearInterval(writer);
      }
      expect(log.records.filter((r) => r.msg === 'config reloaded')[0]).to.deep.include({ reason: 'file change' });
    });

    it('re-reads the files on a timer, for a change that raises no file event', async () => {
      const { tokens, log, url } = await start({ debounceMs: 20, rereadMs: 100 });
      // Written in place inside the versioned directory: nothing the directory watch reports.
      writeFileSync(path.join(tokens.dir, '..data', 'tokens.yaml'), `keep: ${KEEP}\nnew: ${NEW}\nscoped: ${SCOPED}\n`);
      await waitFor('the re-read to take the new token', async () => (await ping(url, NEW)) === 200);
      const reloaded = log.records.find((r) => r.msg === 'config reloaded')!;
      expect(reloaded).to.deep.include({ reason: 'periodic re-read', tokensAdded: ['new'], tokensRemoved: ['old'] });

      // Rounds that find nothing new stay at debug; a broken file is told once, not every round.
      const unchanged = () => log.records.filter((r) => r.msg === 'config unchanged; nothing to reload');
      await waitFor('two quiet rounds', () => unchanged().length >= 2);
      expect(unchanged().map((r) => r.level)).to.deep.equal(unchanged().map(() => 20));
      writeFileSync(path.join(tokens.dir, '..data', 'tokens.yaml'), 'keep: [unterminated\n');
      const refusals = () => log.records.filter((r) => r.msg === 'config reload refused; the running config stays');
      await waitFor('three refused rounds', () => refusals().length >= 3);
      expect(refusals().map((r) => r.level)).to.deep.equal([
        50,
        ...refusals()
          .slice(1)
          .map(() => 20),
      ]);
      expect(await ping(url, NEW)).to.equal(200);
    });

    it('says so when SIGHUP finds nothing changed, and names a token whose value or scope changed', async () => {
      const { tokens, log } = await start({ debounceMs: 20, rereadMs: 0 });
      expect(reloader!.reload('SIGHUP')).to.equal(true);
      expect(log.records.at(-1)).to.deep.include({
        level: 30,
        reason: 'SIGHUP',
        msg: 'config unchanged; nothing to reload',
      });

      writeFileSync(path.join(tokens.dir, '..data', 'tokens.yaml'), `keep: ${KEEP}\nold: ${NEW}\nscoped: ${SCOPED}\n`);
      expect(reloader!.reload('SIGHUP')).to.equal(true);
      expect(log.records.at(-1)).to.deep.include({ msg: 'config reloaded', reason: 'SIGHUP', tokensChanged: ['old'] });
      expect(log.records.at(-1)).to.not.have.any.keys('tokensAdded', 'tokensRemoved');
      expect(log.text()).to.not.include(NEW);
    });

    it('keeps a scoped token scoped when the Secret gives only its value', async () => {
      const { url } = await start();
      expect(await ping(url, SCOPED)).to.equal(200);
      const harbor = await fetch(`${url}/events/harbor`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${SCOPED}`, 'Content-Type': 'application/json' },
        body: '{}',
      });
      expect(harbor.status).to.equal(403);
    });

    it('refuses a bad new tokens file with a log line, and keeps serving the old tokens', async () => {
      const { tokens, log, url } = await start();
      tokens.write({ 'tokens.yaml': `keep: ${KEEP}\nold: changeme-${OLD}\nscoped: ${SCOPED}\n` });
      await waitFor('the refusal log line', () => log.text().includes('config reload refused'), 10_000);
      const refusal = log.lines().find((l) => l.includes('config reload refused'))!;
      expect(JSON.parse(refusal).problems).to.deep.equal([
        'tokens.old looks like a placeholder, not a token: generate one with `openssl rand -hex 32`',
      ]);
      expect(refusal).to.not.include(OLD);
      expect(await ping(url, OLD)).to.equal(200);

      tokens.write({ 'tokens.yaml': 'keep: [unterminated\n' });
      await waitFor(
        'a second refusal',
        () => log.lines().filter((l) => l.includes('config reload refused')).length >= 2,
        10_000,
      );
      expect(await ping(url, OLD)).to.equal(200);
    });

    it('applies live keys from a changed values file and says which changes wait for a restart', async () => {
      const { config, log, root, tokens } = await start();
      config.write({
        'values.yaml': valuesYaml(
          path.join(root, 'store'),
          tokens.file('tokens.yaml'),
          'registryAliases: {"a.example.com": b.example.com}\nlogLevel: debug\n',
        ),
      });
      await waitFor('the reload', () => log.text().includes('config reloaded'), 10_000);
      expect(gateway!.config.registryAliases).to.deep.equal({ 'a.example.com': 'b.example.com' });
      expect(gateway!.config.logLevel).to.equal('info');
      const line = JSON.parse(log.lines().find((l) => l.includes('config reloaded'))!);
      expect(line.needRestart).to.deep.equal(['logLevel']);
    });
  });

  it('tells token names added, removed and changed in value or scope, and nothing of unchanged ones', () => {
    expect(
      tokenChanges(
        { same: 'a', gone: 'b', rotated: 'c', rescoped: { value: 'd', providers: ['acr'] } },
        { same: 'a', rotated: 'c2', rescoped: { value: 'd', providers: ['harbor'] }, fresh: 'e' },
      ),
    ).to.deep.equal({ added: ['fresh'], removed: ['gone'], changed: ['rescoped', 'rotated'] });
    expect(tokenChanges({ a: 'x' }, { a: 'x' })).to.deep.equal({ added: [], removed: [], changed: [] });
    // Token names are the operator's: one that an object inherits is still only a name.
    expect(tokenChanges({}, { constructor: 'x' })).to.deep.equal({ added: ['constructor'], removed: [], changed: [] });
  });

  it('names the restart-only keys that differ', () => {
    const dir = tempDir();
    const file = path.join(dir, 'v.yaml');
    writeFileSync(file, 'tokens: {a: aaaa-bbbb-cccc-dddd-eeee}\n');
    const a = loadConfig(file, {});
    writeFileSync(
      file,
      'tokens: {a: ffff-bbbb-cccc-dddd-eeee}\nserver: {port: 9999}\nsources: {acr: example.com/acr}\n',
    );
    const b = loadConfig(file, {});
    expect(restartKeysChanged(a, b)).to.deep.equal(['server']);
    expect(LIVE_KEYS).to.include.members(['tokens', 'sources']);
  });

  describe('the serve command', () => {
    let gw: GatewayProcess | undefined;
    afterEach(() => gw?.kill9());

    it('reloads on a Secret-style swap and on SIGHUP, and keeps running on a bad file', async () => {
      const root = tempDir();
      const tokens = new SecretVolume(path.join(root, 'tokens'), { 'tokens.yaml': `old: ${OLD}\nscoped: ${KEEP}\n` });
      const port = await freePort();
      const configPath = path.join(root, 'values.yaml');
      writeFileSync(
        configPath,
        valuesYaml(path.join(root, 'store'), tokens.file('tokens.yaml')).replace('port: 0', `port: ${port}`),
      );
      gw = await GatewayProcess.launch(configPath, port);
      expect(await ping(gw.url, OLD)).to.equal(200);

      tokens.write({ 'tokens.yaml': `new: ${NEW}\nscoped: ${KEEP}\n` });
      await waitFor('the new token to work', async () => (await ping(gw!.url, NEW)) === 200);
      expect(await ping(gw.url, OLD)).to.equal(401);

      // A file written in place (no symlink swap, no watch event guaranteed): SIGHUP reloads.
      writeFileSync(path.join(root, 'tokens', '..data', 'tokens.yaml'), `third: ${THIRD}\nscoped: ${KEEP}\n`);
      gw.signal('SIGHUP');
      await waitFor('the SIGHUP reload', async () => (await ping(gw!.url, THIRD)) === 200);
      gw.signal('SIGHUP');
      await waitFor('SIGHUP saying nothing changed', () => gw!.stderr.includes('config unchanged; nothing to reload'));

      tokens.write({ 'tokens.yaml': 'nothing: short\n' });
      await waitFor('the refusal', () => gw!.stderr.includes('config reload refused'));
      expect(await ping(gw.url, THIRD)).to.equal(200);
      expect(gw.exitCode).to.equal(undefined);
      expect(gw.stderr + gw.stdout).to.not.include(NEW);
    });
  });
});
