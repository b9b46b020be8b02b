import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { FakeBrigadeApi } from '../fakes/brigade-api';
import { FakeKnativeBroker, type ReceivedCloudEvent } from '../fakes/knative-broker';
import { DistributionRegistry, requireRegistryTools } from '../helpers/distribution-registry';
import { freePort, GatewayProcess, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { writeOciImage } from '../helpers/oci-image';

const TOKEN = 'registry-notify-token-5d1f';
const BRIGADE_TOKEN = 'brigade-sa-token-multiarch';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

/**
 * Writes an OCI layout shaped like `docker buildx build --platform linux/amd64,linux/arm64
 * --push` with its default provenance: an index naming two platform images and, for each, an
 * attestation manifest (platform unknown/unknown, `vnd.docker.reference.*` annotations).
 * Every blob is written here; nothing is fetched.
 */
function writeBuildxLayout(dir: string, tag: string, marker: string): { indexDigest: string } {
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (mediaType: string, data: Buffer | string): Descriptor => {
    const bytes = Buffer.from(data);
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(path.join(blobs, hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
  };
  const json = (mediaType: string, value: unknown) => put(mediaType, JSON.stringify(value));
  const entries: Descriptor[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const layer = put('application/vnd.oci.image.layer.v1.tar', `${marker} ${architecture} layer`);
    const config = json(OCI_CONFIG, {
      architecture,
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    });
    const image = json(OCI_MANIFEST, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] });
    entries.push({ ...image, platform: { os: 'linux', architecture } });
  }
  for (const image of [...entries]) {
    const statement = put(
      'application/vnd.in-toto+json',
      JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', marker }),
    );
    const config = json(OCI_CONFIG, {
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: [statement.digest] },
    });
    const attestation = json(OCI_MANIFEST, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [{ ...statement, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
    });
    entries.push({
      ...attestation,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    });
  }
  const index = json(OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { indexDigest: index.digest };
}

/** A cosign-style signature: a manifest whose one layer is a simple-signing payload. */
function writeSignatureLayout(dir: string, tag: string, subject: string): void {
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (mediaType: string, data: string): Descriptor => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(path.join(blobs, hex), data);
    return { mediaType, digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const payload = put(
    'application/vnd.dev.cosign.simplesigning.v1+json',
    JSON.stringify({
      critical: { image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' },
    }),
  );
  const config = put(
    OCI_CONFIG,
    JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [payload.digest] } }),
  );
  const manifest = put(
    OCI_MANIFEST,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [{ ...payload, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ-test' } }],
    }),
  );
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

/**
 * The proof: Debian's CNCF Distribution registry notifying the gateway, skopeo pushing a
 * buildx-shaped multi-platform layout with `copy --all`, and Brigade and Knative fakes counting
 * what arrives. Four manifests by digest and the index by tag must reach each target as one push.
 */
describe('e2e: one push per tag from a real registry (multi-platform, signature, re-push, moved tag)', function () {
  this.timeout(180_000);
  let registry: DistributionRegistry | undefined;
  let gateway: GatewayProcess | undefined;
  let brigade: FakeBrigadeApi | undefined;
  let knative: FakeKnativeBroker | undefined;

  before(function () {
    requireRegistryTools(this);
  });

  after(async () => {
    registry?.kill();
    await gateway?.kill9();
    await brigade?.close();
    await knative?.close();
  });

  it('delivers each push of a tag once, with its platforms, kind and tag change', async () => {
    const dir = tempDir('rg-multiarch-');
    const registryPort = await freePort();
    const registryHost = `127.0.0.1:${registryPort}`;
    brigade = new FakeBrigadeApi({ token: BRIGADE_TOKEN });
    await brigade.start();
    knative = await FakeKnativeBroker.start();
    gateway = await GatewayProcess.start(`
tokens:
  registry: {value: ${TOKEN}, providers: [distribution]}
emitters:
  log: {enabled: false}
  brigade: {enabled: true, apiAddress: "${brigade.address}", apiToken: ${BRIGADE_TOKEN}, timeoutSeconds: 2}
  knative: {enabled: true, brokerURL: "${knative.url}"}
collapse:
  windowSeconds: 10
  manifests:
    registries:
      - {host: "${registryHost}", endpoint: "http://${registryHost}"}
delivery: {dir: $DIR}
server: {port: $PORT}
`);
    registry = await DistributionRegistry.start({
      dir,
      notifyUrl: `${gateway.url}/events`,
      token: TOKEN,
      deletes: true,
      port: registryPort,
    });
    const diagnose = (err: Error) =>
      new Error(
        `${err.message}\nBrigade got: ${JSON.stringify(brigade!.createdEvents.map((e) => [e.type, e.labels]))}\n` +
          `gateway:\n${gateway!.stderr.slice(-6000)}\nregistry:\n${registry!.tail(3000)}`,
      );
    const skopeo = (args: string[]) => {
      const run = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, `skopeo: ${run.stderr}`).to.equal(0);
    };
    const digestOf = async (reference: string, accept: string) =>
      (await axios.head(`http://${registryHost}/v2/team/app/manifests/${reference}`, { headers: { Accept: accept } }))
        .headers['docker-content-digest'] as string;
    const partsCounted = async (outcome: string) => {
      const text = (await axios.get<string>(`${gateway!.url}/metrics`, { responseType: 'text' })).data;
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`registry_gateway_push_parts_total{outcome="${outcome}"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const brigadeEvents = () => brigade!.createdEvents;
    const knativeEvents = (): ReceivedCloudEvent[] => knative!.received;

    // 1. The buildx-shaped push: four manifests by digest, then the index by tag.
    const layout = path.join(dir, 'buildx');
    writeBuildxLayout(layout, 'v1', dir);
    skopeo(['--all', `oci:${layout}:v1`, `docker://${registryHost}/team/app:v1`]);
    const indexDigest = await digestOf('v1', OCI_INDEX);
    expect(indexDigest).to.match(/^sha256:[0-9a-f]{64}$/);

    const seenAt: Record<string, number> = {};
    await waitFor(
      'the push at Brigade and at Knative',
      () => {
        if (brigadeEvents().length >= 1) seenAt.brigade ??= Date.now();
        if (knativeEvents().length >= 1) seenAt.knative ??= Date.now();
        return seenAt.brigade !== undefined && seenAt.knative !== undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw diagnose(err);
    });
    // Every part accounted for (held, and absorbed by the tagged push): nothing is left to
    // release as a push of its own later.
    await waitFor('four parts absorbed', async () => (await partsCounted('absorbed')) === 4, 15_000).catch(
      (err: Error) => {
        throw diagnose(err);
      },
    );
    expect(await partsCounted('held')).to.equal(4);
    expect(brigadeEvents()).to.have.length(1);
    expect(knativeEvents()).to.have.length(1);
    const [pushed] = brigadeEvents();
    expect(pushed).to.include({ type: 'push' });
    expect(pushed.labels).to.include({
      repo: 'team/app',
      tag: 'v1',
      digest: indexDigest,
      kind: 'index',
      change: 'created',
      platforms: 'linux/amd64.linux/arm64',
    });
    const [cloudEvent] = knativeEvents();
    expect(cloudEvent.attributes).to.include({
      type: 'sh.brigade.distribution.push',
      digest: indexDigest,
      kind: 'index',
      change: 'created',
      platforms: 'linux/amd64,linux/arm64',
    });
    expect(cloudEvent.data).to.include({ parts: 4 });
    // Within 1 s of the tagged notification, as the registry timestamped it.
    const notifiedAt = Date.parse(String((cloudEvent.data as { time: string }).time));
    expect(seenAt.brigade - notifiedAt, 'Brigade latency (ms)').to.be.within(0, 1000);
    expect(seenAt.knative - notifiedAt, 'Knative latency (ms)').to.be.within(0, 1000);

    // 2. A cosign-style signature of the index: a signature event, not a push.
    const signature = path.join(dir, 'signature');
    const sigTag = `sha256-${indexDigest.slice('sha256:'.length)}.sig`;
    writeSignatureLayout(signature, sigTag, indexDigest);
    skopeo([`oci:${signature}:${sigTag}`, `docker://${registryHost}/team/app:${sigTag}`]);
    await waitFor(
      'the signature event',
      () => brigadeEvents().length === 2 && knativeEvents().length === 2,
      30_000,
    ).catch((err: Error) => {
      throw diagnose(err);
    });
    expect(brigadeEvents()[1]).to.include({ type: 'signed' });
    expect(brigadeEvents()[1].labels).to.include({
      kind: 'signature',
      'subject-digest': indexDigest,
      'subject-tag': 'v1',
    });
    expect(knativeEvents()[1].attributes).to.include({
      type: 'sh.brigade.distribution.signed',
      subjectdigest: indexDigest,
    });

    // 3. The same push again: one push, marked unchanged.
    skopeo(['--all', `oci:${layout}:v1`, `docker://${registryHost}/team/app:v1`]);
    await waitFor('the re-push', () => brigadeEvents().length === 3 && knativeEvents().length === 3, 30_000).catch(
      (err: Error) => {
        throw diagnose(err);
      },
    );
    await waitFor('the re-push parts absorbed', async () => (await partsCounted('absorbed')) === 8, 15_000).catch(
      (err: Error) => {
        throw diagnose(err);
      },
    );
    expect(brigadeEvents()[2].labels).to.include({ tag: 'v1', digest: indexDigest, change: 'unchanged' });

    // 4. Another image to the same tag: moved, from the index.
    const single = path.join(dir, 'single');
    writeOciImage(single, 'v1', `${dir} single`);
    skopeo([`oci:${single}:v1`, `docker://${registryHost}/team/app:v1`]);
    const movedTo = await digestOf('v1', OCI_MANIFEST);
    await waitFor('the moved tag', () => brigadeEvents().length === 4 && knativeEvents().length === 4, 30_000).catch(
      (err: Error) => {
        throw diagnose(err);
      },
    );
    expect(brigadeEvents()[3].labels).to.include({
      digest: movedTo,
      kind: 'image',
      change: 'moved',
      'previous-digest': indexDigest,
    });
    expect(knativeEvents()[3].attributes).to.include({ change: 'moved', previousdigest: indexDigest });
    expect(gateway.stderr).not.to.include(TOKEN);
    expect(gateway.stderr).not.to.include(BRIGADE_TOKEN);
  });
});
