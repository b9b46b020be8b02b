import { expect } from 'chai';
import { StoringIntake } from '../../src/delivery/intake';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import type { RegistryEvent } from '../../src/model/event';
import { PROVIDERS, readRequest } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { readFixture } from '../helpers/corpus';
import { settings, tempDir } from './support';

/**
 * One push as each registry reports it, from its real payloads, read by the providers and
 * stored through the intake with the collapse window on: each target gets one push per tag.
 */

const hex = (n: number) => n.toString(16).padStart(64, '0');

function read(provider: string, body: unknown, headers: Record<string, string> = {}): RegistryEvent[] {
  const parser = PROVIDERS.find((p) => p.name === provider)!;
  const outcome = readRequest(parser, inbound(body, 'application/json', headers), parseContext(provider));
  if (outcome.kind !== 'events') throw new Error(JSON.stringify(outcome));
  return outcome.events;
}

/** Harbor's PUSH_ARTIFACT as it sends it (v2.8 docs): one resource, untagged children with tag == digest. */
function harborPush(digest: string, tag: string | undefined, occurAt: number): unknown {
  const body = structuredClone(readFixture('harbor', 'docs-v2.8-push-artifact.json').body) as {
    occur_at: number;
    event_data: { resources: Record<string, string>[] };
  };
  body.occur_at = occurAt;
  const resource = body.event_data.resources[0];
  resource.digest = digest;
  resource.tag = tag ?? digest;
  resource.resource_url = `harbor.example.com/harbor/alpine${tag ? `:${tag}` : `@${digest}`}`;
  return body;
}

/** GHCR's `package` event per manifest (a real multi-platform delivery): children carry no tag name. */
function ghcrPush(digest: string, tag: string | undefined, mediaType: string): unknown {
  const body = structuredClone(
    readFixture('ghcr', 'package-published-container-multiarch-real-theryangeary.json').body,
  ) as { package: { package_version: { container_metadata: Record<string, Record<string, unknown>> } } };
  const metadata = body.package.package_version.container_metadata;
  metadata.tag = { name: tag ?? '', digest };
  metadata.manifest = { ...metadata.manifest, digest, media_type: mediaType };
  if (!tag) metadata.labels = { ...metadata.labels, all_labels: {} };
  return body;
}

describe('one push per tag, as registries send it', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let now: number;
  let intake: StoringIntake;

  beforeEach(() => {
    dir = tempDir();
    now = Date.parse('2026-11-20T10:00:00Z');
    store = SqliteStore.open(settings(dir.dir), {
      clock: () => now,
      collapse: { windowSeconds: 10, orphans: 'deliver' },
    });
    intake = new StoringIntake(store, [{ name: 'brigade' }, { name: 'knative' }], () => undefined);
  });

  afterEach(async () => {
    await store.close();
    dir.cleanup();
  });

  /** What reached the targets once every window has passed. */
  async function delivered(): Promise<{ emitter: string; event: RegistryEvent }[]> {
    now += 60_000;
    await store.releaseHeldParts(now);
    const rows: { emitter: string; event: RegistryEvent }[] = [];
    for (const emitter of ['brigade', 'knative']) {
      for (const due of await store.claim(emitter, now, 100)) rows.push({ emitter, event: due.event });
    }
    return rows;
  }

  for (const order of ['index last', 'index first'] as const) {
    it(`Harbor: four children with tag == digest and the tagged index, ${order}`, async () => {
      const children = [1, 2, 3, 4].map((n) =>
        read('harbor', harborPush(`sha256:${hex(n)}`, undefined, 1680501893 + n)),
      );
      const index = read('harbor', harborPush(`sha256:${hex(99)}`, 'v1', 1680501899));
      const sequence = order === 'index last' ? [...children, index] : [index, ...children];
      for (const events of sequence) {
        await intake.accept(events);
        now += 500;
      }
      const rows = await delivered();
      expect(rows.map((r) => [r.emitter, r.event.type, r.event.tag, r.event.digest])).to.deep.equal([
        ['brigade', 'push', 'v1', `sha256:${hex(99)}`],
        ['knative', 'push', 'v1', `sha256:${hex(99)}`],
      ]);
      expect(rows[0].event.parts).to.equal(order === 'index last' ? 4 : 0);
      expect(await store.listHeldParts({ state: 'absorbed' })).to.have.length(4);
    });
  }

  it('Harbor: an identical re-push (Harbor fires again for content it has) is one push, unchanged', async () => {
    for (const round of [0, 1]) {
      for (const n of [1, 2])
        await intake.accept(read('harbor', harborPush(`sha256:${hex(n)}`, undefined, 100 * round + n)));
      await intake.accept(read('harbor', harborPush(`sha256:${hex(99)}`, 'v1', 100 * round + 9)));
      now += 60_000;
    }
    const rows = await delivered();
    expect(rows.filter((r) => r.emitter === 'brigade').map((r) => r.event.tagChange)).to.deep.equal([
      'created',
      'unchanged',
    ]);
  });

  it('GHCR: a package event per manifest is one push, with the platforms GitHub lists', async () => {
    const headers = (n: number) => ({ 'x-github-event': 'package', 'x-github-delivery': `delivery-${n}` });
    const image = 'application/vnd.docker.distribution.manifest.v2+json';
    for (const n of [1, 2])
      await intake.accept(read('ghcr', ghcrPush(`sha256:${hex(n)}`, undefined, image), headers(n)));
    const index = ghcrPush(
      'sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8',
      '0e2a89b',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );
    // The real delivery's labels name the platforms; put back what ghcrPush left.
    (index as { package: { package_version: unknown } }).package.package_version = (
      readFixture('ghcr', 'package-published-container-multiarch-real-theryangeary.json').body as {
        package: { package_version: unknown };
      }
    ).package.package_version;
    await intake.accept(read('ghcr', index, headers(3)));
    const rows = await delivered();
    expect(rows).to.have.length(2);
    expect(rows[0].event).to.include({ type: 'push', tag: '0e2a89b', kind: 'index', parts: 2 });
    expect(rows[0].event.platforms).to.deep.equal(['linux/amd64', 'linux/arm64']);
  });

  it('a push by digest that no tag claims is delivered on its own after the window', async () => {
    await intake.accept(read('harbor', harborPush(`sha256:${hex(7)}`, undefined, 1)));
    const rows = await delivered();
    expect(rows.map((r) => [r.emitter, r.event.type, r.event.digest])).to.deep.equal([
      ['brigade', 'push', `sha256:${hex(7)}`],
      ['knative', 'push', `sha256:${hex(7)}`],
    ]);
  });
});
