/**
 * Shared by the chart and example tests: reading the repo's YAML and JSON, merging values the way
 * Helm does, and running sample payloads through the gateway's own parsers and HTTP app, so the
 * examples are checked against what the gateway does rather than against a copy of its rules.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parseConfig, type Config } from '../../src/gateway';
import type { RegistryEvent } from '../../src/model/event';
import { detectProvider, PROVIDERS } from '../../src/providers';
import { createParseContext } from '../../src/providers/context';
import type { InboundRequest } from '../../src/providers/types';
import { startEdge } from '../helpers/edge';
import type { Listening } from '../helpers/http';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CHART_DIR = path.join(REPO_ROOT, 'charts', 'registry-gateway');
export const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');

export type Tree = Record<string, unknown>;

export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

export function readJson<T = Tree>(file: string): T {
  return JSON.parse(readText(file)) as T;
}

/** Every document of a YAML file, failing on any parse error (with the file named). */
export function readYamlDocuments(file: string): Tree[] {
  const docs = parseAllDocuments(readText(file));
  const out: Tree[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as Tree);
  }
  return out;
}

export function readYaml(file: string): Tree {
  const docs = readYamlDocuments(file);
  if (docs.length !== 1) throw new Error(`${file}: expected one YAML document, found ${docs.length}`);
  return docs[0];
}

export function isMap(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `helm install -f base -f override`: maps merge key by key, anything else (lists included) is
 * replaced, and a null removes the key.
 */
export function mergeValues(base: Tree, override: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = mergeValues(out[key], value);
    else out[key] = value;
  }
  return out;
}

/** The gateway's own loader on a values tree, as `registry-gateway validate` would read it. */
export function gatewayConfig(values: Tree, file = 'values.yaml', env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig(stringify(values), file, env);
}

export function chartValues(): Tree {
  return readYaml(path.join(CHART_DIR, 'values.yaml'));
}

/**
 * The Secrets an example names, as the pod would see them: a fresh value for each token the
 * values leave without one, in a tokens file where `tokensSecret` points, and a fresh value for
 * each credential in `existingSecrets` in the environment variable the chart sets from it.
 */
export function withExampleSecrets(values: Tree): { values: Tree; env: NodeJS.ProcessEnv } {
  const out: Tree = { ...values };
  const env: NodeJS.ProcessEnv = {};
  const valueTokens = Object.values((values.tokens ?? {}) as Tree).filter((t) => t !== null);
  if (!(values.tokensSecret as Tree | undefined)?.name && valueTokens.length === 0) {
    // No token anywhere: the chart generates one and mounts it as the tokens file.
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rg-example-')), 'tokens.yaml');
    writeFileSync(file, `generated: ${randomBytes(32).toString('hex')}\n`);
    out.tokensFile = file;
  } else if ((values.tokensSecret as Tree | undefined)?.name) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-example-'));
    const file = path.join(dir, 'tokens.yaml');
    const missing = Object.entries((values.tokens ?? {}) as Tree)
      .filter(([, token]) => isMap(token) && token.value === undefined)
      .map(([name]) => `${name}: ${randomBytes(32).toString('hex')}`);
    writeFileSync(file, `${missing.join('\n')}\n`);
    out.tokensFile = file;
  }
  const secrets = (values.existingSecrets ?? {}) as Record<string, { name?: string }> & {
    webhookSecrets?: { env: string }[];
  };
  for (const { env: variable } of secrets.webhookSecrets ?? []) {
    env[variable] = `whsec_${randomBytes(32).toString('base64')}`;
  }
  const names: Record<string, string> = {
    brigadeApiToken: 'BRIGADE_API_TOKEN',
    knativeBrokerURL: 'KNATIVE_BROKER_URL',
    kubeappsToken: 'KUBEAPPS_TOKEN',
  };
  for (const [key, variable] of Object.entries(names)) {
    if (!secrets[key]?.name) continue;
    const standIn = randomBytes(16).toString('hex');
    env[variable] = variable.endsWith('URL') ? `http://stand-in.example.svc/${standIn}` : standIn;
  }
  return { values: out, env };
}

/** An example values file as the chart would hand it to the gateway: chart defaults underneath. */
export function exampleConfig(file: string): Config {
  const { values, env } = withExampleSecrets(mergeValues(chartValues(), readYaml(path.join(EXAMPLES_DIR, file))));
  return gatewayConfig(values, file, env);
}

/** The value of a token named in a config, whichever of the two forms it takes. */
export function tokenValue(config: Config, name: string): string {
  const token = config.tokens[name];
  if (token === undefined) throw new Error(`no token ${name}`);
  return typeof token === 'string' ? token : token.value;
}

export interface SamplePayload {
  body: unknown;
  contentType: string;
}

/** A payload under examples/payloads with the media type its registry sends it with. */
export function samplePayload(file: string): SamplePayload {
  const body = readJson<unknown>(path.join(EXAMPLES_DIR, 'payloads', file));
  const contentType = file.includes('cloudevents')
    ? 'application/cloudevents+json'
    : file.startsWith('distribution-')
      ? 'application/vnd.docker.distribution.events.v1+json'
      : 'application/json';
  return { body, contentType };
}

/**
 * The RegistryEvents the gateway makes of a sample payload under a config, authenticated with
 * the named token: the context is built by the events handler's own function.
 */
export function eventsFor(payloadFile: string, config: Config, tokenName: string): RegistryEvent[] {
  const { body, contentType } = samplePayload(payloadFile);
  const request: InboundRequest = { body, contentType, headers: {} };
  const parser = detectProvider(request);
  if (!parser) throw new Error(`${payloadFile}: no parser recognises it`);
  const token = config.tokens[tokenName];
  const scopeRegistries = typeof token === 'object' ? token.registries : undefined;
  const outcome = parser.parse(request, createParseContext(parser, config, scopeRegistries));
  if (outcome.kind !== 'events') throw new Error(`${payloadFile}: expected events, got ${JSON.stringify(outcome)}`);
  return outcome.events;
}

/** Paths the gateway takes webhooks on: /events (detected) and /events/<provider>. */
export function gatewayEventPaths(): string[] {
  return ['/events', ...PROVIDERS.map((p) => `/events/${p.name}`)];
}

/** The gateway's HTTP app on a loopback port, its intake recording what it accepted. */
export async function startGateway(config: Config): Promise<Listening & { accepted: RegistryEvent[] }> {
  const edge = await startEdge({ config });
  return Object.assign(edge, { accepted: edge.intake.received });
}
