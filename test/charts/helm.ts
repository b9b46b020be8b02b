/**
 * The real helm (unpacked from an npm package by scripts/unpack-helm.ts) and Kubernetes' own
 * object schemas (kubernetes-models and its CRD companions), for rendering the chart as an
 * operator would and checking every object the API server would be sent.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { unpackHelm } from '../../scripts/unpack-helm';
import { CHART_DIR, EXAMPLES_DIR, type Tree } from '../examples/support';

export const RELEASE = 'registry-gateway';
export const NAMESPACE = 'registry-gateway';
export const FULLNAME = 'registry-gateway';

export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmRun {
  const run = spawnSync(unpackHelm(), args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: tmp(), HELM_CONFIG_HOME: tmp() } });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

let scratch: string | undefined;
function tmp(): string {
  scratch ??= mkdtempSync(path.join(os.tmpdir(), 'rg-helm-'));
  return scratch;
}

export interface ValuesInput {
  /** Example files under examples/. */
  examples?: string[];
  /** Values files anywhere (absolute paths), after the examples. */
  files?: string[];
  /** Extra values, applied last (as -f). */
  values?: Tree;
  set?: string[];
}

export function valuesArgs(input: ValuesInput): string[] {
  const args: string[] = [];
  for (const file of input.examples ?? []) args.push('-f', path.join(EXAMPLES_DIR, file));
  for (const file of input.files ?? []) args.push('-f', file);
  if (input.values) {
    const file = path.join(tmp(), `values-${randomBytes(6).toString('hex')}.yaml`);
    writeFileSync(file, stringify(input.values));
    args.push('-f', file);
  }
  for (const set of input.set ?? []) args.push('--set', set);
  return args;
}

export function templateRun(input: ValuesInput = {}): HelmRun {
  return helm(['template', RELEASE, CHART_DIR, '-n', NAMESPACE, ...valuesArgs(input)]);
}

/** `helm template`, every rendered object; throws with helm's own message on failure. */
export function render(input: ValuesInput = {}): Tree[] {
  const run = templateRun(input);
  if (run.code !== 0) throw new Error(`helm template failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML: ${doc.errors[0].message}`);
      return doc.toJS() as Tree | null;
    })
    .filter((d): d is Tree => d !== null && typeof d === 'object');
}

/** The NOTES of `helm install --dry-run=client` (what an operator reads after installing). */
export function installNotes(input: ValuesInput = {}): string {
  const run = helm(['install', RELEASE, CHART_DIR, '-n', NAMESPACE, '--dry-run=client', ...valuesArgs(input)]);
  if (run.code !== 0) throw new Error(`helm install --dry-run failed: ${run.stderr}`);
  const at = run.stdout.indexOf('NOTES:');
  if (at < 0) throw new Error('no NOTES in helm install output');
  return run.stdout.slice(at);
}

export function find(objects: Tree[], kind: string, name?: string): Tree {
  const found = objects.find((o) => o.kind === kind && (name === undefined || (o.metadata as Tree).name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} rendered (have ${objects.map((o) => o.kind).join(', ')})`);
  return found;
}

export function kinds(objects: Tree[]): string[] {
  return objects.map((o) => String(o.kind)).sort();
}

/** The module of kubernetes-models (or a CRD companion) that knows this apiVersion. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === '') return `kubernetes-models/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (group.endsWith('cert-manager.io')) return `@kubernetes-models/cert-manager/${apiVersion}/${kind}`;
  if (group.endsWith('knative.dev')) return `@kubernetes-models/knative/${apiVersion}/${kind}`;
  if (group.endsWith('toolkit.fluxcd.io')) return `@kubernetes-models/flux-cd/${apiVersion}/${kind}`;
  if (group === 'gateway.networking.k8s.io') return `@kubernetes-models/gateway-api/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Validates one object against its kind's schema; throws naming the object and the field. */
export async function validateObject(object: Tree): Promise<void> {
  const apiVersion = String(object.apiVersion);
  const kind = String(object.kind);
  const module = (await import(modelModule(apiVersion, kind))) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = module[kind];
  if (!Model) throw new Error(`no model for ${apiVersion} ${kind}`);
  try {
    new Model(object).validate();
  } catch (err) {
    throw new Error(`${kind} ${String((object.metadata as Tree)?.name)}: ${(err as Error).message}`, { cause: err });
  }
}

export function decodeSecret(secret: Tree, key: string): string {
  const data = secret.data as Record<string, string>;
  if (data?.[key] === undefined) throw new Error(`secret has no key ${key}`);
  return Buffer.from(data[key], 'base64').toString('utf8');
}

export function podSpec(objects: Tree[]): Tree {
  const workload = objects.find((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
  if (!workload) throw new Error('no workload rendered');
  return ((workload.spec as Tree).template as Tree).spec as Tree;
}

export function gatewayContainer(objects: Tree[]): Tree {
  return (podSpec(objects).containers as Tree[])[0];
}

export function podAnnotations(objects: Tree[]): Tree {
  const workload = objects.find((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')!;
  return (((workload.spec as Tree).template as Tree).metadata as Tree).annotations as Tree;
}

/**
 * What the pod would load: the rendered config Secret, the environment its container gets
 * (a Secret the operator manages stands in as a fresh random value), and the tokens file
 * where the pod mounts it (the generated Secret's content, or, for an operator's Secret, a
 * fresh value per token the values leave without one). Returns the files to validate.
 */
export function podInputs(objects: Tree[]): {
  configFile: string;
  env: Record<string, string>;
  config: Tree;
  /** Where the pod's tokens file was written, for a `helm test` pod that mounts it. */
  tokensFile?: string;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-pod-'));
  const rendered = (name: string) =>
    objects.find((o) => o.kind === 'Secret' && (o.metadata as Tree).name === name);
  const config = parseAllDocuments(decodeSecret(find(objects, 'Secret', FULLNAME), 'values.yaml'))[0].toJS() as Tree;
  const env: Record<string, string> = {};
  for (const entry of (gatewayContainer(objects).env as Tree[] | undefined) ?? []) {
    const ref = (entry.valueFrom as Tree | undefined)?.secretKeyRef as { name: string; key: string } | undefined;
    if (ref) {
      const secret = rendered(ref.name);
      const standIn = randomBytes(24).toString('hex');
      env[String(entry.name)] = secret
        ? decodeSecret(secret, ref.key)
        : entry.name === 'DATABASE_URL'
          ? `postgres://gateway:${standIn}@stand-in.example.svc:5432/registry`
          : String(entry.name).endsWith('URL')
            ? `http://stand-in.example.svc/${standIn}`
            : standIn;
    } else if (entry.value !== undefined) env[String(entry.name)] = typeof entry.value === 'string' ? entry.value : JSON.stringify(entry.value);
  }
  const mounted = typeof config.tokensFile === 'string' ? config.tokensFile : '';
  if (mounted) {
    const mountDir = path.posix.dirname(mounted);
    const mount = (gatewayContainer(objects).volumeMounts as Tree[]).find((m) => m.mountPath === mountDir);
    if (!mount) throw new Error(`tokensFile ${mounted} is not under any mount`);
    const volume = (podSpec(objects).volumes as Tree[]).find((v) => v.name === mount.name) as Tree;
    const secretName = String((volume.secret as Tree).secretName);
    const key = path.posix.basename(mounted);
    const secret = rendered(secretName);
    const named = Object.entries((config.tokens ?? {}) as Tree).filter(([, t]) => t !== null);
    // Tokens that live only in the operator's Secret: one stand-in for them, allowed anything.
    const standIns = named.length === 0 ? { 'from-secret': randomBytes(32).toString('hex') } : {};
    const text = secret
      ? decodeSecret(secret, key)
      : stringify({
          ...standIns,
          ...Object.fromEntries(
            named
              .filter(([, t]) => typeof t === 'object' && !(t as Tree).value)
              .map(([name]) => [name, randomBytes(32).toString('hex')]),
          ),
        });
    const tokensFile = path.join(dir, key);
    writeFileSync(tokensFile, text);
    config.tokensFile = tokensFile;
  }
  const configFile = path.join(dir, 'values.yaml');
  writeFileSync(configFile, stringify(config));
  return { configFile, env, config, tokensFile: typeof config.tokensFile === 'string' ? config.tokensFile : undefined };
}
