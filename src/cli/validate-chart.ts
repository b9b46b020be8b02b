import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { ConfigError } from '../config/load';
import { loadConfig, type Config } from '../gateway';

type Tree = Record<string, unknown>;
interface SecretRef {
  name?: string;
  key?: string;
}

/** The port the chart gives the admin listener when the values leave server.adminPort unset. */
export const CHART_ADMIN_PORT = 9090;

export interface ChartCheck {
  config: Config;
  /** What the pod receives from Secrets when it starts, one line each (names, never values). */
  expected: string[];
}

const obj = (v: unknown): Tree => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Tree) : {});
const ref = (v: unknown): SecretRef => obj(v);
const standIn = () => randomBytes(32).toString('hex');

/**
 * Chart values as the pod will see them. The chart supplies some values from Secrets the
 * operator manages (`tokensSecret`, `existingSecrets.*`, `delivery.postgres.urlSecret`), or
 * generates them; this fills each with a random stand-in, checks everything else exactly as
 * `serve` would, and lists what must be in those Secrets. Keys the chart itself sets are refused
 * here as the chart refuses them, so the file that passes is the file that installs.
 */
export function checkChartValues(file: string): ChartCheck {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`),
    );
  const values = obj(doc.toJS());
  const problems = chartOwnedKeys(values);
  if (problems.length > 0) throw new ConfigError(file, problems);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-chart-values-'));
  try {
    const expected: string[] = [];
    const env: NodeJS.ProcessEnv = {};
    const tokens = obj(values.tokens);
    const named = Object.entries(tokens).filter(([, t]) => t !== null);
    const tokensSecret = ref(values.tokensSecret);
    if (tokensSecret.name) {
      const key = tokensSecret.key || 'tokens.yaml';
      const fromSecret: Tree = {};
      for (const [name, token] of named) {
        const spec = obj(token);
        if (typeof token === 'string' || spec.value !== undefined || spec.verify === 'google-oidc') continue;
        fromSecret[name] = standIn();
        expected.push(`tokens.${name}: its value, as "${name}: <value>" in Secret ${tokensSecret.name}, key ${key}`);
      }
      if (named.length === 0) {
        fromSecret['from-secret'] = standIn();
        expected.push(`tokens: every token, in Secret ${tokensSecret.name}, key ${key}`);
      }
      values.tokensFile = writeFile(dir, 'tokens.yaml', fromSecret);
    } else if (named.length === 0) {
      values.tokensFile = writeFile(dir, 'tokens.yaml', { generated: standIn() });
      expected.push('tokens: none given, so the chart generates one (see docs/install.md on GitOps)');
    }

    const existing = obj(values.existingSecrets);
    const envSecrets: [string, SecretRef, string, () => string][] = [
      ['emitters.brigade.apiToken', ref(existing.brigadeApiToken), 'BRIGADE_API_TOKEN', standIn],
      [
        'emitters.knative.brokerURL',
        ref(existing.knativeBrokerURL),
        'KNATIVE_BROKER_URL',
        () => `http://stand-in.invalid/${standIn()}`,
      ],
      ['emitters.kubeapps.token', ref(existing.kubeappsToken), 'KUBEAPPS_TOKEN', standIn],
    ];
    const delivery = obj(values.delivery);
    if (delivery.store === 'postgres') {
      const urlSecret = ref(obj(delivery.postgres).urlSecret);
      envSecrets.push([
        'delivery.postgres.url',
        urlSecret,
        'DATABASE_URL',
        () => `postgres://gateway:${standIn()}@stand-in.invalid:5432/registry`,
      ]);
    }
    for (const [key, secret, variable, value] of envSecrets) {
      if (!secret.name) continue;
      env[variable] = value();
      expected.push(`${key}: from Secret ${secret.name}, key ${secret.key || 'token'} (as ${variable})`);
    }

    const consoleSecret = ref(existing.consoleTokens);
    if (consoleSecret.name) {
      const consoleValues = obj(values.console);
      const operators = Object.entries(obj(consoleValues.tokens)).filter(([, t]) => t !== null);
      const stand: Tree = operators.length > 0 ? {} : { 'from-secret': standIn() };
      values.console = { ...consoleValues, tokensFile: writeFile(dir, 'console-tokens.yaml', stand) };
      expected.push(
        `console.tokens: operator tokens, in Secret ${consoleSecret.name}, key ${consoleSecret.key || 'tokens.yaml'}`,
      );
    }

    const tls = obj(values.tls) as { mode?: string; secretName?: string };
    if (tls.mode && tls.mode !== 'none') {
      expected.push(`the TLS certificate: ${tlsSource(tls.mode, tls.secretName ?? '')}`);
    }
    const configFile = path.join(dir, 'values.yaml');
    writeFileSync(configFile, stringify(values));
    try {
      return { config: loadConfig(configFile, env), expected };
    } catch (err) {
      // Problems name keys of the operator's file, never the scratch copy.
      if (err instanceof ConfigError) throw new ConfigError(file, err.problems);
      throw err;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeFile(dir: string, name: string, content: Tree): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify(content));
  return file;
}

function tlsSource(mode: string, secretName: string): string {
  if (mode === 'secret') return `Secret ${secretName || '(tls.secretName is empty)'} (kubernetes.io/tls)`;
  if (mode === 'certManager') return "the Secret cert-manager writes for the chart's Certificate";
  return 'generated by the chart (see docs/install.md on GitOps)';
}

/** Keys the chart wires itself and refuses in values; the same rules as its checkValues. */
function chartOwnedKeys(values: Tree): string[] {
  const problems: string[] = [];
  if (values.tokensFile) problems.push('tokensFile: the chart sets it from tokensSecret; name your Secret there');
  if (obj(obj(values.server).tls).enabled) {
    problems.push(
      'server.tls.enabled: the chart sets it from tls.mode (selfSigned, secret or certManager); leave server.tls alone',
    );
  }
  if (obj(values.console).tokensFile) {
    problems.push('console.tokensFile: the chart sets it from existingSecrets.consoleTokens; name your Secret there');
  }
  return problems;
}
