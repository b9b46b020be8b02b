import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { parse } from 'yaml';
import { freePort, GatewayProcess, REPO_ROOT, runCli, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';

/**
 * What a newcomer does first: `make run` (serve examples/values-local.yaml) and post the sample
 * ACR push as the README shows; the log emitter prints the normalised event.
 */
describe('e2e: make run and the README walkthrough', function () {
  this.timeout(60_000);
  let gw: GatewayProcess | undefined;
  afterEach(() => gw?.kill9());

  const values = path.join(REPO_ROOT, 'examples', 'values-local.yaml');
  const token = () => Object.values(parse(readFileSync(values, 'utf8')).tokens)[0] as string;

  it('the README names the commands and the payload it posts', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).to.include('make run');
    expect(readme).to.include('make test');
    expect(readme).to.include('examples/payloads/acr-push.json');
    expect(readme).to.include(`Authorization: Bearer ${token()}`);
  });

  it('prints the normalised event for the sample ACR push', async () => {
    const port = await freePort();
    gw = await GatewayProcess.launch(values, port, { PORT: String(port), DELIVERY_DIR: tempDir() });

    const sent = await runCli([
      'send',
      '--url',
      `${gw.url}/events`,
      '--token',
      token(),
      path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'),
    ]);
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stdout).to.include('202');

    const [event] = await waitFor('the event on stdout', () => (gw!.events().length > 0 ? gw!.events() : undefined));
    const body = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'), 'utf8'));
    expect(event).to.deep.include({
      id: body.id,
      provider: 'acr',
      source: 'brigade.sh/acr',
      type: 'push',
      registry: 'myregistry.azurecr.io',
      repo: 'team/web',
      tag: 'v1.4.2',
      digest: body.target.digest,
    });
    expect(event.payload).to.deep.equal(body);
  });

  it("the README's send command posts every example payload, each answered 2xx", async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const command = /^npx registry-gateway (send .*)$/m.exec(readme)?.[1];
    expect(command, 'a `npx registry-gateway send ...` line in the README').to.be.a('string');
    const port = await freePort();
    gw = await GatewayProcess.launch(values, port, { PORT: String(port), DELIVERY_DIR: tempDir() });

    // As a shell runs it from the repository root: the URL's origin is this gateway's, and a
    // glob expands to the files it names, sorted.
    const args = command!.split(/\s+/).flatMap((arg) => {
      if (/^https?:\/\//.test(arg)) return [arg.replace(/^https?:\/\/[^/]+/, gw!.url)];
      if (!arg.includes('*')) return [arg];
      const isMatch = picomatch(path.basename(arg));
      return readdirSync(path.join(REPO_ROOT, path.dirname(arg)))
        .filter((name) => isMatch(name))
        .sort()
        .map((name) => path.posix.join(path.dirname(arg), name));
    });
    const files = args.filter((arg) => arg.endsWith('.json'));
    expect(files.length).to.be.greaterThan(10);
    expect(files).to.include('examples/payloads/ghcr-package-published.json');

    const sent = await runCli(args);
    expect(sent.code, sent.stderr).to.equal(0);
    const answered = sent.stdout.split('\n').filter(Boolean);
    expect(answered.map((line) => line.split(':')[0])).to.deep.equal(files);
    for (const line of answered) expect(line, line).to.match(/^\S+\.json: 2\d\d /);
  });

  it('validate accepts the local values and lists every problem of a broken file', async () => {
    const ok = await runCli(['validate', '--config', values]);
    expect(ok.code).to.equal(0);
    expect(ok.stdout).to.match(/valid \(1 token\(s\); emitters: log\)/);

    const broken = path.join(tempDir(), 'bad.yaml');
    writeFileSync(broken, 'tokens: {}\nserver: {port: -1}\nunknownKey: 1\n');
    const bad = await runCli(['validate', '--config', broken]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('tokens must name at least one token');
    expect(bad.stderr).to.include('server.port must be a valid port');
    expect(bad.stderr).to.include('unknownKey is not allowed');
  });

  it('send refuses to run without a token and reports a non-2xx answer as failure', async () => {
    const port = await freePort();
    gw = await GatewayProcess.launch(values, port, { PORT: String(port), DELIVERY_DIR: tempDir() });
    const noToken = await runCli(['send', '--url', `${gw.url}/events`, 'x.json'], { REGISTRY_GATEWAY_TOKEN: '' });
    expect(noToken.code).to.equal(2);
    const badForm = await runCli(['send', '--url', `${gw.url}/events`, '--token', 't', '--verify', 'hmac', 'x.json']);
    expect(badForm.code).to.equal(2);
    expect(badForm.stderr).to.include('--verify needs one of bearer, github-hmac, jfrog, path, google-oidc');
    const wrong = await runCli([
      'send',
      '--url',
      `${gw.url}/events`,
      '--token',
      'wrong',
      path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'),
    ]);
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.include('401');
  });
});
