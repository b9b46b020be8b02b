import { expect } from 'chai';
import { ARTIFACT_KINDS, type RegistryEvent } from '../../src/model/event';
import { PROVIDERS, readRequest } from '../../src/providers';
import { cosignAttachment, kindOfManifest } from '../../src/providers/artifact';
import type { ParseOutcome } from '../../src/providers/types';
import { inbound, parseContext } from '../helpers/context';
import { fixtureFiles, readFixture } from '../helpers/corpus';

const INDEX_HEX = '89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8';

function read(provider: string, body: unknown, headers: Record<string, string> = {}): RegistryEvent[] {
  const parser = PROVIDERS.find((p) => p.name === provider)!;
  const outcome: ParseOutcome = readRequest(
    parser,
    inbound(body, 'application/json', headers),
    parseContext(provider, { fallback: 'registry.example.com' }),
  );
  if (outcome.kind !== 'events') throw new Error(`expected events, got ${JSON.stringify(outcome)}`);
  return outcome.events;
}

const fixture = (folder: string, file: string) => readFixture(folder, file).body as Record<string, unknown>;

/** A Distribution notification of one manifest push, as registry 2.8 writes it. */
function distributionPush(tag: string | undefined, mediaType: string, digest = `sha256:${'a'.repeat(64)}`) {
  const real = fixture('distribution', 'registry-2.8.2-manifest-push-tagged.json') as {
    events: Record<string, unknown>[];
  };
  const event = structuredClone(real.events[0]);
  const target = event.target as Record<string, unknown>;
  target.mediaType = mediaType;
  target.digest = digest;
  if (tag === undefined) delete target.tag;
  else target.tag = tag;
  return { events: [event] };
}

describe('artifact kinds', () => {
  it('reads the manifest media type: index, image, OCI artifact manifest, Helm config', () => {
    expect(kindOfManifest('application/vnd.oci.image.index.v1+json')).to.equal('index');
    expect(kindOfManifest('application/vnd.docker.distribution.manifest.list.v2+json')).to.equal('index');
    expect(kindOfManifest('application/vnd.docker.distribution.manifest.v2+json')).to.equal('image');
    expect(kindOfManifest('application/vnd.oci.artifact.manifest.v1+json')).to.equal('referrer');
    expect(
      kindOfManifest('application/vnd.oci.image.manifest.v1+json', 'application/vnd.cncf.helm.config.v1+json'),
    ).to.equal('chart');
    expect(kindOfManifest('application/vnd.oci.image.manifest.v1+json', 'application/spdx+json')).to.equal('sbom');
    expect(kindOfManifest(undefined)).to.equal(undefined);
    expect(kindOfManifest('application/octet-stream')).to.equal(undefined);
  });

  it("reads cosign's tag scheme and nothing that only looks like it", () => {
    expect(cosignAttachment(`sha256-${INDEX_HEX}.sig`)).to.deep.equal({
      kind: 'signature',
      digest: `sha256:${INDEX_HEX}`,
    });
    expect(cosignAttachment(`sha256-${INDEX_HEX}.att`)?.kind).to.equal('attestation');
    expect(cosignAttachment(`sha256-${INDEX_HEX}.sbom`)?.kind).to.equal('sbom');
    expect(cosignAttachment(`sha256-${INDEX_HEX.slice(1)}.sig`)).to.equal(undefined);
    expect(cosignAttachment(`sha256-${INDEX_HEX}.sig2`)).to.equal(undefined);
    expect(cosignAttachment('v1.sig')).to.equal(undefined);
  });

  describe('per registry, from real payloads', () => {
    it('Distribution: the pushed manifest media type (registry 2.8.2 capture)', () => {
      const [event] = read('distribution', fixture('distribution', 'registry-2.8.2-manifest-push-tagged.json'));
      expect(event).to.include({ type: 'push', kind: 'image', tag: 'v1' });
    });

    it('GHCR: container_metadata media type and its platforms label', () => {
      const body = fixture('ghcr', 'package-published-container-multiarch-real-theryangeary.json');
      const [event] = read('ghcr', body, { 'x-github-event': 'package', 'x-github-delivery': 'd-1' });
      expect(event).to.include({ type: 'push', kind: 'index', digest: `sha256:${INDEX_HEX}` });
      expect(event.platforms).to.deep.equal(['linux/amd64', 'linux/arm64']);
    });

    it('Artifactory: manifest.json is an image, with no platforms when the list is empty', () => {
      const [event] = read('artifactory', fixture('artifactory', 'real-docker-pushed-jfrog-cloud-kargo-pr-4498.json'));
      expect(event).to.include({ type: 'push', kind: 'image' });
      expect(event).not.to.have.property('platforms');
    });

    it('Artifactory: list.manifest.json is an index, its platforms from data.platforms', () => {
      const body = structuredClone(fixture('artifactory', 'real-docker-pushed-jfrog-cloud-kargo-pr-4498.json'));
      const data = body.data as Record<string, unknown>;
      data.path = 'foo/bar/busybox/latest/list.manifest.json';
      data.name = 'list.manifest.json';
      data.platforms = [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm', os: 'linux', variant: 'v7' },
      ];
      const [event] = read('artifactory', body);
      expect(event).to.include({ kind: 'index' });
      expect(event.platforms).to.deep.equal(['linux/amd64', 'linux/arm/v7']);
    });

    it('ECR: manifest-media-type and artifact-media-type of the detail', () => {
      const body = structuredClone(fixture('ecr', 'docs-image-action-push.json'));
      const detail = body.detail as Record<string, unknown>;
      // The documentation's example digest is elided to 60 hex digits.
      detail['image-digest'] = `sha256:${INDEX_HEX}`;
      detail['manifest-media-type'] = 'application/vnd.oci.image.manifest.v1+json';
      detail['artifact-media-type'] = 'application/vnd.oci.image.config.v1+json';
      expect(read('ecr', body)[0]).to.include({ type: 'push', kind: 'image' });
      detail['artifact-media-type'] = 'text/sbom+json';
      expect(read('ecr', body)[0]).to.include({ type: 'sbom_attached', kind: 'sbom' });
      delete detail['manifest-media-type'];
      delete detail['artifact-media-type'];
      expect(read('ecr', body)[0]).to.include({ kind: 'unknown' });
    });

    it('ACR and Event Grid: target.mediaType; chart events are charts', () => {
      expect(read('acr', fixture('acr', 'argocd-image-updater-captured-push.json'))[0]).to.include({
        type: 'push',
        kind: 'image',
      });
      expect(
        read('eventgrid', fixture('eventgrid-acr', 'rest-api-spec-eventgrid-schema-chart-pushed.json'))[0],
      ).to.include({ type: 'chart_push', kind: 'chart' });
    });

    it('Harbor: a child whose tag is its digest is untagged, and nothing in the payload says its kind', () => {
      const body = structuredClone(fixture('harbor', 'goharbor-issue-19982-push-artifact-proxy-cache-v2.7.json'));
      // The reporter elided the host.
      const resource = (body.event_data as { resources: Record<string, string>[] }).resources[0];
      resource.resource_url = resource.resource_url.replace('harbor....', 'harbor.example.com');
      const [event] = read('harbor', body);
      expect(event).to.include({ type: 'push', kind: 'unknown' });
      expect(event).not.to.have.property('tag');
    });

    it('GitHub Package Registry (older registry_package): a push of docker.pkg.github.com, kind from its manifest text', () => {
      const body = fixture('ghcr', 'registry-package-published-docker-pkg-github-real-keel-test.json');
      const headers = { 'x-github-event': 'registry_package', 'x-github-delivery': 'd-2' };
      const [event] = read('ghcr', body, headers);
      expect(event).to.include({
        type: 'push',
        kind: 'image',
        registry: 'docker.pkg.github.com',
        repo: 'dingggu/utaitebox/server',
        tag: '1.2.3',
      });
      expect(event).not.to.have.property('digest');
      const broken = structuredClone(body);
      (broken.registry_package as { registry: { url: string } }).registry.url = 'https://docker.pkg.github.com/';
      expect(() => read('ghcr', broken, headers)).to.throw(
        /registry_package\.registry\.url and registry_package\.name do not name an image/,
      );
    });

    it('Docker Hub: no media type at all', () => {
      expect(read('dockerhub', fixture('dockerhub', 'docs-current-push.json'))[0]).to.include({ kind: 'unknown' });
    });
  });

  describe('signatures, attestations and SBOMs are their own event types', () => {
    const manifest = 'application/vnd.oci.image.manifest.v1+json';
    for (const [suffix, type, kind] of [
      ['sig', 'signed', 'signature'],
      ['att', 'attested', 'attestation'],
      ['sbom', 'sbom_attached', 'sbom'],
    ] as const) {
      it(`a push of sha256-<hex>.${suffix} is ${type}, about sha256:<hex> in the same repository`, () => {
        const [event] = read('distribution', distributionPush(`sha256-${INDEX_HEX}.${suffix}`, manifest));
        expect(event).to.include({ type, kind, tag: `sha256-${INDEX_HEX}.${suffix}` });
        expect(event.subject).to.deep.equal({ digest: `sha256:${INDEX_HEX}`, repo: 'team/app' });
      });
    }

    it('Harbor sends a signature as PUSH_ARTIFACT of the .sig tag: signed', () => {
      const body = structuredClone(fixture('harbor', 'docs-v2.8-push-artifact.json'));
      const resources = (body.event_data as { resources: Record<string, unknown>[] }).resources;
      resources[0].tag = `sha256-${INDEX_HEX}.sig`;
      const [event] = read('harbor', body);
      expect(event).to.include({ type: 'signed', kind: 'signature' });
      expect(event.subject?.digest).to.equal(`sha256:${INDEX_HEX}`);
    });

    it('a delete of a signature stays a delete, with its kind', () => {
      const body = fixture('distribution', 'registry-2.8.2-manifest-push-tagged.json') as {
        events: Record<string, unknown>[];
      };
      const deleted = structuredClone(body);
      deleted.events[0].action = 'delete';
      deleted.events[0].target = { repository: 'team/app', tag: `sha256-${INDEX_HEX}.sig` };
      expect(read('distribution', deleted)[0]).to.include({ type: 'delete', kind: 'signature' });
      expect(read('distribution', deleted)[0]).not.to.have.property('subject');
    });

    it('an OCI artifact manifest with no known artifact type is a referrer', () => {
      const [event] = read(
        'distribution',
        distributionPush(undefined, 'application/vnd.oci.artifact.manifest.v1+json'),
      );
      expect(event).to.include({ type: 'referrer_attached', kind: 'referrer' });
    });
  });

  it('every event read from every corpus payload carries a kind', () => {
    let events = 0;
    for (const parser of PROVIDERS) {
      const folders = parser.name === 'eventgrid' ? ['eventgrid-acr'] : [parser.name];
      for (const folder of folders) {
        let files: string[];
        try {
          files = fixtureFiles(folder);
        } catch {
          continue;
        }
        for (const file of files) {
          let outcome: ParseOutcome;
          try {
            outcome = readRequest(
              parser,
              inbound(readFixture(folder, file).body, 'application/json', {
                'x-github-event': 'package',
                'x-github-delivery': 'd-1',
              }),
              parseContext(parser.name, { fallback: 'registry.example.com' }),
            );
          } catch {
            continue; // a payload the corpus keeps as refused
          }
          if (outcome.kind !== 'events') continue;
          for (const event of outcome.events) {
            events++;
            expect(ARTIFACT_KINDS, `${folder}/${file}`).to.include(event.kind);
          }
        }
      }
    }
    expect(events, 'events read from the corpus').to.be.greaterThan(30);
  });
});
