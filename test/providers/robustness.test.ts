import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PayloadError } from '../../src/model/errors';
import { detectProvider, PROVIDERS } from '../../src/providers';
import type { InboundRequest } from '../../src/providers/types';
import { inbound, parseContext } from '../helpers/context';
import { fixtureFiles, readFixture } from '../helpers/corpus';
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

/** What the HTTP edge does with a body: detect, then parse with each parser as a named path would. */
function exercise(request: InboundRequest): void {
  const targets = [detectProvider(request), ...PROVIDERS].filter((p) => p !== undefined);
  for (const parser of targets) {
    for (const fallback of [undefined, 'fallback.example.com']) {
      try {
        parser.parse(request, parseContext(parser.name, { fallback }));
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
}

const OWN_FIXTURES = path.resolve(__dirname, '..', 'fixtures');
const bodies: { name: string; body: Json; contentType: string; headers?: Record<string, string>; wrap?: boolean }[] =
  [];
const SHARED_FOLDERS = ['acr', 'eventgrid-acr', 'harbor', 'harbor-cloudevents', 'distribution'];
for (const folder of [...SHARED_FOLDERS, 'ghcr', 'dockerhub', 'quay', 'artifactory', 'gar', 'ecr']) {
  for (const file of fixtureFiles(folder)) {
    bodies.push({
      name: `shared/${folder}/${file}`,
      body: readFixture(folder, file).body,
      contentType: folder === 'harbor-cloudevents' ? 'application/cloudevents+json' : 'application/json',
      // GitHub's bodies come with its headers; Artifact Registry's decoded messages in a Pub/Sub push.
      headers: folder === 'ghcr' ? githubHeaders('package') : undefined,
      wrap: folder === 'gar' && file.startsWith('docs-'),
    });
  }
}
for (const folder of readdirSync(OWN_FIXTURES)) {
  for (const file of readdirSync(path.join(OWN_FIXTURES, folder)).filter((f) => f.endsWith('.json'))) {
    bodies.push({
      name: `own/${folder}/${file}`,
      body: JSON.parse(readFileSync(path.join(OWN_FIXTURES, folder, file), 'utf8')),
      contentType: 'application/json',
    });
  }
}

describe('providers: no body makes a parser throw anything but a 400', () => {
  it('has bodies to mutate', () => {
    expect(bodies.length).to.be.greaterThan(40);
  });

  for (const { name, body, contentType, headers, wrap } of bodies) {
    const request = (value: Json) => inbound(wrap ? pubsubPush(value) : value, contentType, headers);
    it(`every field of ${name}, replaced by hostile values`, () => {
      for (const at of paths(body)) {
        for (const value of HOSTILE) exercise(request(replaced(body, at, value)));
      }
      for (const value of HOSTILE) exercise(request(value));
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
        exercise(inbound(data, 'application/json', headers));
      }
    }
  });
});
