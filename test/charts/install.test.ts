/**
 * The install as the README and docs/install.md write it, with the real helm: the values file
 * they show and every example pass `validate --chart`, render a `helm test` pod (also when the
 * tokens live only in tokensSecret) that passes against a gateway serving the rendered config.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/gateway';
import { CHART_DIR, EXAMPLES_DIR, startGateway, type Tree } from '../examples/support';
import { runCli } from '../helpers/gateway-process';
import { shownCommands, shownValues } from './shown';
import { decodeSecret, find, helm, NAMESPACE, podInputs, render, RELEASE, validateObject, valuesArgs, type ValuesInput } from './helm';

const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => /^values-.*\.yaml$/.test(f) && !f.includes('local'))
  .sort();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'rg-install-'));
const hex = () => randomBytes(32).toString('hex');

/** The tokens file the page's `kubectl create secret --from-literal` makes, with a fresh value. */
function shownSecret(commands: string[]): string {
  const literal = /--from-literal=[^=]+="(.*)"/.exec(commands.find((c) => c.includes('create secret generic')) ?? '');
  if (!literal) throw new Error('no tokens Secret is created');
  return literal[1].replace('$(openssl rand -hex 32)', hex());
}

/**
 * Runs the rendered `helm test` pod's own command against a gateway serving the pod's config.
 * `secretText` is the tokens Secret both see; `podSecretText` gives the pod another one.
 */
async function runTestPod(objects: Tree[], secretText?: string, podSecretText?: string) {
  const inputs = podInputs(objects);
  if (secretText !== undefined) writeFileSync(inputs.tokensFile!, secretText);
  const config = loadConfig(inputs.configFile, inputs.env);
  // The ping stores nothing, so the store engine does not matter; SQLite needs no server.
  config.delivery.store = 'sqlite';
  const gateway = await startGateway(config);
  try {
    const podTokens = path.join(scratch, `pod-tokens-${hex().slice(0, 8)}.yaml`);
    writeFileSync(podTokens, podSecretText ?? secretText ?? '');
    const container = ((find(objects, 'Pod').spec as Tree).containers as Tree[])[0];
    const args = (container.args as string[]).map((arg) => {
      if (arg.startsWith('http')) return `${gateway.url}${new URL(arg).pathname}`;
      if (arg.startsWith('/payload/')) return path.join(CHART_DIR, 'files', path.basename(arg));
      if (arg.startsWith('/tokens/')) return podSecretText !== undefined || secretText !== undefined ? podTokens : inputs.tokensFile!;
      return arg;
    });
    const env: Record<string, string> = {};
    const ref = ((container.env as Tree[] | undefined) ?? []).find((e) => e.name === 'REGISTRY_GATEWAY_TOKEN');
    if (ref) {
      const secretRef = (ref.valueFrom as Tree).secretKeyRef as Tree;
      env.REGISTRY_GATEWAY_TOKEN = decodeSecret(find(objects, 'Secret', String(secretRef.name)), String(secretRef.key));
    }
    return await runCli(args, env);
  } finally {
    await gateway.close();
  }
}

describe('the install as written', function () {
  this.timeout(180_000);

  describe("the README's Helm steps", () => {
    const file = shownValues();
    const commands = shownCommands();

    it('validate --chart passes the README values and lists what the Secret must hold; plain validate cannot', async () => {
      const words = commands.find((c) => c.includes(' validate '))!.split(/\s+/);
      expect(words).to.include('--chart');
      const run = await runCli(words.slice(words.indexOf('validate')).map((w) => (w === 'my-values.yaml' ? file : w)));
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('valid chart values (1 token(s)');
      expect(run.stdout).to.include(
        'tokens.acr-myregistry: its value, as "acr-myregistry: <value>" in Secret registry-gateway-tokens, key tokens.yaml',
      );
      expect(run.stdout).to.not.match(/[0-9a-f]{32}/);
      const plain = await runCli(['validate', '--config', file]);
      expect(plain.code).to.equal(1);
      expect(plain.stderr).to.include('tokens.acr-myregistry has no value');
    });

    it('helm lint and install render them, and the helm test pod passes with the token the README puts in the Secret', async () => {
      const install = commands.find((c) => c.startsWith('helm install'))!.split(/\s+/);
      expect(install.slice(0, 6)).to.deep.equal(['helm', 'install', RELEASE, 'charts/registry-gateway', '-n', NAMESPACE]);
      expect(install.slice(6)).to.deep.equal(['-f', 'my-values.yaml']);
      expect(commands).to.include(`helm test ${RELEASE} -n ${NAMESPACE}`);
      const lint = helm(['lint', '--strict', CHART_DIR, '-f', file]);
      expect(lint.code, lint.stdout + lint.stderr).to.equal(0);
      const objects = render({ files: [file] });
      for (const object of objects) await validateObject(object);
      const pod = find(objects, 'Pod');
      const mounted = ((pod.spec as Tree).volumes as Tree[]).map((v) => (v.secret as Tree | undefined)?.secretName);
      expect(mounted).to.include('registry-gateway-tokens');
      const secret = shownSecret(commands);
      const passed = await runTestPod(objects, secret);
      expect(passed.code, passed.stderr).to.equal(0);
      expect(passed.stdout).to.include(': 200 ');
      const stale = await runTestPod(objects, secret, `acr-myregistry: ${hex()}\n`);
      expect(stale.code).to.equal(1);
      expect(stale.stderr).to.include(': 401 ');
    });

    it('docs/install.md shows the same values and steps', () => {
      expect(shownCommands('docs/install.md')).to.deep.equal(commands);
      expect(readFileSync(shownValues('docs/install.md'), 'utf8')).to.equal(readFileSync(file, 'utf8'));
    });
  });

  for (const example of EXAMPLES) {
    describe(`examples/${example}`, () => {
      it('passes validate --chart, listing what it expects from Secrets', async () => {
        const run = await runCli(['validate', '--chart', '--config', path.join(EXAMPLES_DIR, example)]);
        expect(run.code, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/valid chart values \(\d+ token\(s\)/);
        expect(run.stdout).to.include('expected when the pod starts:');
      });

      it('renders a helm test pod that passes against a gateway serving the rendered config', async () => {
        const objects = render({ examples: [example] });
        const result = await runTestPod(objects);
        expect(result.code, result.stderr).to.equal(0);
        expect(result.stdout).to.include(': 200 ');
      });
    });
  }

  describe('helm test for every kind of token', () => {
    const cases: [string, ValuesInput, string][] = [
      ['tokens only in tokensSecret', { values: { tokensSecret: { name: 'gw-tokens', key: 'tokens.yaml' } } }, 'acr'],
      ['an inline Harbor-only token', { values: { tokens: { h: { value: hex(), providers: ['harbor'] } } } }, 'harbor'],
      ['an inline Distribution-only token', { values: { tokens: { d: { value: hex(), providers: ['distribution'] } } } }, 'distribution'],
      ['an inline ECR-only token', { values: { tokens: { e: { value: hex(), providers: ['ecr'] } } } }, 'ecr'],
    ];
    for (const [name, input, provider] of cases) {
      it(`${name}: pings /events/${provider} and passes`, async () => {
        const objects = render(input);
        const container = ((find(objects, 'Pod').spec as Tree).containers as Tree[])[0];
        expect(String((container.args as string[])[2])).to.match(new RegExp(`/events/${provider}$`));
        const result = await runTestPod(objects);
        expect(result.code, result.stderr).to.equal(0);
        expect(result.stdout).to.include(': 200 ');
      });
    }

    it('renders no test pod when no token can post a ping, and NOTES promises none', () => {
      const input = { values: { tokens: { gh: { value: hex(), verify: 'github-hmac', providers: ['ghcr'] } } } };
      expect(render(input).some((o) => o.kind === 'Pod')).to.equal(false);
      const run = helm(['install', RELEASE, CHART_DIR, '-n', NAMESPACE, '--dry-run=client', ...valuesArgs(input)]);
      expect(run.stdout).to.include('No `helm test`');
      expect(run.stdout).to.not.include('helm test registry-gateway');
    });
  });

  describe('validate --chart', () => {
    it('still refuses what is wrong, naming the operator file, and the keys the chart owns', async () => {
      const file = path.join(scratch, 'broken.yaml');
      writeFileSync(file, stringify({ tokensSecret: { name: 's' }, delivery: { maxAttempts: 'many' }, tokensFile: '/x' }));
      const owned = await runCli(['validate', '--chart', '--config', file]);
      expect(owned.code).to.equal(1);
      expect(owned.stderr).to.include(`${file}: 1 problem(s)`);
      expect(owned.stderr).to.include('tokensFile: the chart sets it from tokensSecret');
      writeFileSync(file, stringify({ tokensSecret: { name: 's' }, delivery: { maxAttempts: 'many' } }));
      const wrong = await runCli(['validate', '--chart', '--config', file]);
      expect(wrong.code).to.equal(1);
      expect(wrong.stderr).to.include('delivery.maxAttempts');
      expect(wrong.stderr).to.not.include('rg-chart-values-');
    });

    it('knows the generated token, the database URL and operator tokens from Secrets', async () => {
      const file = path.join(scratch, 'secrets.yaml');
      writeFileSync(
        file,
        stringify({
          delivery: { store: 'postgres', postgres: { urlSecret: { name: 'db-app', key: 'uri' } } },
          console: { enabled: true },
          existingSecrets: { consoleTokens: { name: 'operators', key: 'tokens.yaml' } },
          tls: { mode: 'selfSigned' },
        }),
      );
      const run = await runCli(['validate', '--chart', '--config', file]);
      expect(run.code, run.stderr).to.equal(0);
      for (const line of [
        'tokens: none given, so the chart generates one',
        'delivery.postgres.url: from Secret db-app, key uri (as DATABASE_URL)',
        'console.tokens: operator tokens, in Secret operators, key tokens.yaml',
        'the TLS certificate: generated by the chart',
      ]) {
        expect(run.stdout).to.include(line);
      }
    });
  });
});
