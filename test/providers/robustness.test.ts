import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PayloadError } from '../../src/model/errors';
import { detectProvider, PROVIDERS } from '../../src/providers';
import type { InboundRequest, ParseContext, RegistryProvider } from '../../src/providers/types';
import { inbound, parseContext } from '../helpers/context';
import { corpusPath } from '../helpers/corpus';
import { githubHeaders, pubsubPush } from './corpus-registries';

/** Values a careless or hostile sender may put anywhere in a body. */
const HOSTILE: unknown[] = [
  null,
  0,
  -1,
  1e308,
  '',
  'x',
  ' ',
  'A'.repeat(5000),
  [],
  [null],
  {},
  { a: 1 },
  true,
  '__proto__',
  'constructor',
];

type Json = unknown;

/** Every path to a value in a JSON document, objects and arrays included. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = prefix.length ? [prefix] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

function replaced(value: Json, at: (string | number)[], withValue: unknown): Json {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at[at.length - 1]] = withValue;
  return copy;
}

const contexts = new Map<string, ParseContext>();
/** The context the edge builds for a provider: one per provider and fallback, built once. */
function contextFor(name: string, fallback: string | undefined): ParseContext {
  const key = `${name} ${fallback}`;
  let context = contexts.get(key);
  if (!context) contexts.set(key, (context = parseContext(name, { fallback })));
  return context;
}

/** A parse that ends in events, nothing, or a 400 naming its problems; anything else would be a 500. */
function parseOrRefuse(parser: RegistryProvider, request: InboundRequest): void {
  for (const fallback of [undefined, 'fallback.example.com']) {
    try {
      parser.parse(request, contextFor(parser.name, fallback));
    } catch (err) {
      if (!(err instanceof PayloadError)) {
        throw new Error(`${parser.name} threw ${(err as Error)?.stack ?? String(err)} (would be a 500)`, {
          cause: err,
        });
      }
      expect(err.errors.length, 'a 400 names at least one problem').to.be.greaterThan(0);
    }
  }
}

/**
 * What the HTTP edge does with a body: on /events, detect and parse with what detection picked;
 * on /events/<name>, parse with that provider, here the one the body was written for. Every other
 * parser meets the body unmutated in its own test, which keeps the cost at fixtures x fields
 * rather than fixtures x fields x providers.
 */
function exercise(request: InboundRequest, own: RegistryProvider): void {
  const detected = detectProvider(request);
  if (detected && detected !== own) parseOrRefuse(detected, request);
  parseOrRefuse(own, request);
}

/** How each folder's sender posts its bodies, where that is not plain JSON. */
const POSTED_AS: Record<
  string,
  { contentType?: string; headers?: Record<string, string>; wrap?: (file: string) => boolean }
> = {
  'harbor-cloudevents': { contentType: 'application/cloudevents+json' },
  // GitHub's bodies come with its headers; Artifact Registry's decoded messages in a Pub/Sub push.
  ghcr: { headers: githubHeaders('package') },
  gar: { wrap: (file) => file.startsWith('docs-') },
};

/** A fixture folder belongs to the provider its name starts with: `harbor-cloudevents` to harbor. */
function ownerOf(folder: string): RegistryProvider {
  const owner = PROVIDERS.find((p) => p.name === folder.split('-')[0]);
  if (!owner) throw new Error(`fixture folder ${folder} names no provider of PROVIDERS`);
  return owner;
}

interface Body {
  name: string;
  body: Json;
  owner: RegistryProvider;
  request: (value: Json) => InboundRequest;
}

const OWN_FIXTURES = path.resolve(__dirname, '..', 'fixtures');
const folders = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
const bodies: Body[] = [];
for (const [label, dir] of [
  ['shared', corpusPath('fixtures')],
  ['own', OWN_FIXTURES],
] as const) {
  for (const folder of folders(dir)) {
    const posted = POSTED_AS[folder] ?? {};
    for (const file of readdirSync(path.join(dir, folder)).filter((f) => f.endsWith('.json'))) {
      const wrap = posted.wrap?.(file) ?? false;
      bodies.push({
        name: `${label}/${folder}/${file}`,
        body: JSON.parse(readFileSync(path.join(dir, folder, file), 'utf8')),
        owner: ownerOf(folder),
        request: (value) =>
          inbound(wrap ? pubsubPush(value) : value, posted.contentType ?? 'application/json', posted.headers),
      });
    }
  }
}

describe('providers: no body makes a parser throw anything but a 400', () => {
  it('has bodies to mutate, for every provider', () => {
    expect(bodies.length).to.be.greaterThan(40);
    const owners = new Set(bodies.map((b) => b.owner.name));
    expect(
      PROVIDERS.filter((p) => !owners.has(p.name)).map((p) => p.name),
      'providers without fixtures',
    ).to.deep.equal([]);
  });

  it('every parser, on every fixture as it is and on hostile bodies', () => {
    for (const { body, request } of bodies) {
      for (const value of [body, ...HOSTILE]) {
        for (const parser of PROVIDERS) parseOrRefuse(parser, request(value));
      }
    }
  });

  for (const { name, body, owner, request } of bodies) {
    it(`every field of ${name}, replaced by hostile values: detection and ${owner.name}`, () => {
      for (const at of paths(body)) {
        for (const value of HOSTILE) exercise(request(replaced(body, at, value)), owner);
      }
    });
  }

  it('binary-mode CloudEvents headers with hostile values', () => {
    const data = { id: 'x', action: 'push', target: { repository: 'a/b', digest: `sha256:${'a'.repeat(64)}` } };
    for (const value of [
      '',
      ' ',
      '2.0',
      'Microsoft.ContainerRegistry.',
      'Microsoft.ContainerRegistry.ImagePushed',
      'x'.repeat(3000),
    ]) {
      for (const header of ['ce-specversion', 'ce-type', 'ce-id', 'ce-source', 'ce-time']) {
        const headers: Record<string, string> = {
          'ce-specversion': '1.0',
          'ce-type': 'Microsoft.ContainerRegistry.ImagePushed',
          'ce-id': 'id-1',
          'ce-source': '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myregistry',
          [header]: value,
        };
        const request = inbound(data, 'application/json', headers);
        for (const parser of PROVIDERS) parseOrRefuse(parser, request);
      }
    }
  });
});
