import type { ArtifactKind, EventType, RegistryEvent } from '../model/event';

/**
 * What was pushed, told from what a registry's payload shows: the manifest's media type
 * (Distribution, ACR, Event Grid, ECR, GHCR), the artifact type or config media type (ECR's
 * `artifact-media-type`, GHCR's `config.media_type`), and cosign's tag scheme, which every
 * registry carries because it is only a tag. docs/pushes.md has the table per registry.
 */

/** cosign names the manifests it attaches to `sha256:<hex>` after that digest. */
const COSIGN_TAG = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;
const COSIGN_KINDS: Readonly<Record<string, ArtifactKind>> = { sig: 'signature', att: 'attestation', sbom: 'sbom' };

const INDEX_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

const IMAGE_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/**
 * Manifests that exist only to point at another one: the OCI 1.1 draft artifact manifest and
 * ORAS's earlier one. Without an artifact type that says more, such a push is a referrer.
 */
const REFERRER_MEDIA_TYPES = new Set([
  'application/vnd.oci.artifact.manifest.v1+json',
  'application/vnd.cncf.oras.artifact.manifest.v1+json',
]);

/**
 * Artifact types (or config media types) that name what an OCI artifact is. Image configs say
 * nothing beyond "image", so they are not listed: the manifest's media type decides then.
 */
const ARTIFACT_TYPES: ReadonlyMap<string, ArtifactKind> = new Map([
  ['application/vnd.dev.cosign.artifact.sig.v1+json', 'signature'],
  ['application/vnd.dev.cosign.simplesigning.v1+json', 'signature'],
  ['application/vnd.cncf.notary.signature', 'signature'],
  ['application/vnd.in-toto+json', 'attestation'],
  ['application/vnd.dsse.envelope.v1+json', 'attestation'],
  ['application/vnd.dev.cosign.artifact.sbom.v1+json', 'sbom'],
  ['application/spdx+json', 'sbom'],
  ['text/spdx', 'sbom'],
  ['application/vnd.cyclonedx+json', 'sbom'],
  ['application/vnd.cyclonedx+xml', 'sbom'],
  ['application/vnd.syft+json', 'sbom'],
  ['text/sbom+json', 'sbom'],
  ['application/vnd.cncf.helm.config.v1+json', 'chart'],
  ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'chart'],
]);

/** A push of one of these kinds is not a push of an image: it gets its own event type. */
const ATTACHED_TYPES: Readonly<Partial<Record<ArtifactKind, EventType>>> = {
  signature: 'signed',
  attestation: 'attested',
  sbom: 'sbom_attached',
  referrer: 'referrer_attached',
};

const CHART_TYPES: ReadonlySet<EventType> = new Set(['chart_push', 'chart_delete', 'chart_pull']);

/** What the manifest's media type and, where known, its artifact type say; undefined when nothing. */
export function kindOfManifest(mediaType: string | undefined, artifactType?: string): ArtifactKind | undefined {
  const normalise = (value: string | undefined) => value?.split(';')[0].trim().toLowerCase();
  const artifact = ARTIFACT_TYPES.get(normalise(artifactType) ?? '');
  if (artifact) return artifact;
  const manifest = normalise(mediaType) ?? '';
  if (INDEX_MEDIA_TYPES.has(manifest)) return 'index';
  if (REFERRER_MEDIA_TYPES.has(manifest)) return 'referrer';
  if (IMAGE_MEDIA_TYPES.has(manifest)) return 'image';
  return ARTIFACT_TYPES.get(manifest);
}

/** `sha256-<hex>.sig` → a signature of `sha256:<hex>`; undefined for any other tag. */
export function cosignAttachment(tag: string | undefined): { kind: ArtifactKind; digest: string } | undefined {
  const match = tag === undefined ? null : COSIGN_TAG.exec(tag);
  return match ? { kind: COSIGN_KINDS[match[2]], digest: `sha256:${match[1]}` } : undefined;
}

/** `linux/arm64/v8` from an OCI platform's os, architecture and variant; undefined without both. */
export function platformName(platform: {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
}): string | undefined {
  const { os, architecture, variant } = platform;
  if (typeof os !== 'string' || typeof architecture !== 'string' || os === '' || architecture === '') return undefined;
  return typeof variant === 'string' && variant !== '' ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`;
}

/** Each platform once, in the order first named; undefined for an empty list. */
export function platformList(platforms: (string | undefined)[]): string[] | undefined {
  const list = [...new Set(platforms.filter((p): p is string => p !== undefined))];
  return list.length > 0 ? list : undefined;
}

/**
 * The last step of reading any payload: every event gets a `kind`, and a push of a signature,
 * attestation, SBOM or referrer becomes its own event type, naming the digest it is about. The
 * tag scheme wins over media types: cosign's manifests are ordinary image manifests.
 */
export function finishArtifact(event: RegistryEvent): RegistryEvent {
  const cosign = cosignAttachment(event.tag);
  const kind = cosign?.kind ?? event.kind ?? (CHART_TYPES.has(event.type) ? 'chart' : 'unknown');
  const finished: RegistryEvent = { ...event, kind };
  const attached = ATTACHED_TYPES[kind];
  if (event.type === 'push' && attached) {
    finished.type = attached;
    // cosign writes the attachment into the repository of what it signs unless told otherwise
    // (COSIGN_REPOSITORY), and the tag is all a webhook shows of it.
    if (cosign)
      finished.subject =
        event.repo === undefined ? { digest: cosign.digest } : { digest: cosign.digest, repo: event.repo };
  }
  return finished;
}
