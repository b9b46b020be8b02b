import type { CorpusFolder } from './corpus-types';

/**
 * The shared corpus of GHCR, Docker Hub, Quay, JFrog Artifactory, Artifact Registry and ECR,
 * with what each file becomes (see corpus.test.ts). Documentation samples with a masked or
 * truncated digest are refused naming the field, like ACR's and Harbor's.
 */

/** The delivery id of GitHub's documented example headers (ghcr/headers-example.json). */
export const GITHUB_DELIVERY = '72d3162e-cc78-11e3-81ab-4c9367dc0958';

/** The headers GitHub sends with a delivery of `event`. */
export function githubHeaders(event: string): Record<string, string> {
  return { 'x-github-event': event, 'x-github-delivery': GITHUB_DELIVERY };
}

export const PUBSUB_MESSAGE_ID = '11223344556677';
export const PUBSUB_PUBLISH_TIME = '2026-04-08T10:00:00.000Z';

/** A Pub/Sub push envelope around one message whose data is `data` as JSON. */
export function pubsubPush(data: unknown, messageId = PUBSUB_MESSAGE_ID): Record<string, unknown> {
  return {
    message: {
      data: Buffer.from(JSON.stringify(data)).toString('base64'),
      messageId,
      publishTime: PUBSUB_PUBLISH_TIME,
    },
    subscription: 'projects/my-project/subscriptions/registry-gateway',
  };
}

const asPackage = (body: unknown) => ({ body, headers: githubHeaders('package') });
const asPubsubPush = (body: unknown) => ({ body: pubsubPush(body) });

/** GitHub's example digests have 40 hex digits, Artifact Registry's docs end theirs in `...`. */
const AR_TRUNCATED = (field: string, image: string) =>
  `message.data.${field} "${image}@sha256:6ec128e26cd5..." does not end in a digest (algorithm:hex), got "sha256:6ec128e26cd5..."`;
/** The ECR user guide's digest has 60 hex digits (`…abcd1234`), so it names no image. */
const ECR_SHORT_DIGEST =
  'detail.image-digest "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234" is not a digest (algorithm:hex)';
const QUAY_BUILD = 'Quay build notification (its pushed tags arrive as repo_push)';
const NOT_GITHUB_BODY =
  'body must be a GitHub package webhook: a JSON object with "action" and "package" (or "registry_package"), sent with the X-GitHub-Event header';

export const MORE_REGISTRIES: Record<string, CorpusFolder> = {
  ghcr: {
    provider: 'ghcr',
    contentType: 'application/json',
    cases: {
      // GitHub's example headers, not a body (they are replayed with a body in corpus.test.ts).
      'headers-example.json': { detected: false, expect: { rejected: [NOT_GITHUB_BODY] } },
      'package-published-container-multiarch-real-theryangeary.json': {
        request: asPackage,
        expect: {
          events: [
            {
              id: GITHUB_DELIVERY,
              type: 'push',
              registry: 'ghcr.io',
              repo: 'theryangeary/www',
              tag: '0e2a89b',
              digest: 'sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8',
              time: '2025-11-03T13:50:26Z',
            },
          ],
        },
      },
      // `package_type: "npm"` decides, whatever its `ecosystem` and registry say (its 40-digit
      // digests would be refused; ghcr.test.ts shows that with the type set to CONTAINER).
      'package-published-container-octokit-example.json': {
        request: asPackage,
        expect: {
          ignored: 'GitHub package "hello-world-npm" has package_type "npm": not a container image',
        },
      },
      'registry-package-published-container-octokit-example.json': {
        request: (body) => ({ body, headers: githubHeaders('registry_package') }),
        expect: {
          ignored: 'GitHub package "hello-world-npm" has package_type "npm": not a container image',
        },
      },
      // The GitHub Package Registry form GitHub Enterprise Server still sends: a push of that
      // registry's image, tag from package_version.version, no digest.
      'registry-package-published-docker-pkg-github-real-keel-test.json': {
        request: (body) => ({ body, headers: githubHeaders('registry_package') }),
        expect: {
          events: [
            {
              id: GITHUB_DELIVERY,
              type: 'push',
              registry: 'docker.pkg.github.com',
              repo: 'dingggu/utaitebox/server',
              tag: '1.2.3',
              time: '2019-11-01T05:30:31Z',
            },
          ],
        },
      },
      // The beta-era event, sent with the only header its capture shows: GitHub no longer sends it.
      'package-v2-create-ghcr-beta-real-keel-test.json': {
        request: (body) => ({ body, headers: { 'x-github-event': 'package_v2' } }),
        expect: {
          ignored: 'GitHub event "package_v2" is not a package event the gateway forwards (package, registry_package)',
        },
      },
      'package-v2-create-ghcr-beta-real-keel-test.headers.json': {
        detected: false,
        expect: { rejected: [NOT_GITHUB_BODY] },
      },
    },
  },

  dockerhub: {
    provider: 'dockerhub',
    contentType: 'application/json',
    cases: {
      // No tag in 2015: a push of the repository, with no tag to name.
      'docs-2015-push-no-tag-via-hub-feedback-41.json': {
        expect: {
          events: [
            {
              id: 'dockerhub-e4eb0a93a03825a6858be70fbcaaf728',
              type: 'push',
              registry: 'docker.io',
              repo: 'svendowideit/busybox',
              time: '2014-12-03T00:33:42Z',
            },
          ],
        },
      },
      'docs-current-push.json': {
        expect: {
          events: [
            {
              id: 'dockerhub-07c53cbb8ca83c5b6e15c183b738bbcc',
              type: 'push',
              registry: 'docker.io',
              repo: 'svendowideit/testhook',
              tag: 'latest',
              time: '2014-12-03T00:22:41Z',
            },
          ],
        },
      },
      // The same push in the older form: float seconds and an `images` list (with a literal
      // "..."), neither of which is part of the id, so it is the same event as docs-current.
      'docs-legacy-push-with-images.json': {
        expect: {
          events: [
            {
              id: 'dockerhub-07c53cbb8ca83c5b6e15c183b738bbcc',
              type: 'push',
              registry: 'docker.io',
              repo: 'svendowideit/testhook',
              tag: 'latest',
              time: '2014-12-03T00:22:41Z',
            },
          ],
        },
      },
      'real-push-multiarch-develop-hub-feedback-2148.json': {
        expect: {
          events: [
            {
              id: 'dockerhub-734d523e700edb7c42a3423910532fb4',
              type: 'push',
              registry: 'docker.io',
              repo: 'fireflyiii/core',
              tag: 'develop',
              time: '2021-09-17T09:46:10Z',
            },
          ],
        },
      },
    },
  },

  quay: {
    provider: 'quay',
    contentType: 'application/json',
    cases: {
      'docs-quay-io-2016-repo-push-updated-tags-map.json': {
        expect: {
          events: [
            {
              id: 'quay-5efa5c84906aa4151d071076152ed7c7',
              type: 'push',
              registry: 'quay.io',
              repo: 'mynamespace/repository',
              tag: 'latest',
            },
          ],
        },
      },
      // The list form: the id includes the request id (fixed in tests), see quay.ts.
      'docs-quay-io-2017-repo-push.json': {
        expect: {
          events: [
            {
              id: 'quay-bea9e4c929929569022c7ad6c34fd936',
              type: 'push',
              registry: 'quay.io',
              repo: 'mynamespace/repository',
              tag: 'latest',
            },
          ],
        },
      },
      'docs-rh-quay-build-cancelled.json': { expect: { ignored: QUAY_BUILD } },
      'docs-rh-quay-build-failure.json': { expect: { ignored: QUAY_BUILD } },
      'docs-rh-quay-build-queued.json': { expect: { ignored: QUAY_BUILD } },
      'docs-rh-quay-build-started.json': { expect: { ignored: QUAY_BUILD } },
      'docs-rh-quay-build-success.json': { expect: { ignored: QUAY_BUILD } },
      // `homepage` names another repository; `docker_url` is what names the image.
      'docs-rh-quay-repo-push.json': {
        expect: {
          events: [
            {
              id: 'quay-81f5b2505204d91b8bd0d4c052c2bafa',
              type: 'push',
              registry: 'quay.io',
              repo: 'dgangaia/test',
              tag: 'latest',
            },
          ],
        },
      },
      'docs-rh-quay-vulnerability-found.json': {
        expect: {
          events: [
            {
              id: 'quay-f146a7b1dba906c45510a7cf647979d2',
              type: 'scan_completed',
              registry: 'quay.io',
              repo: 'dgangaia/repository',
              tag: 'latest',
            },
            {
              id: 'quay-4ad2ae0d82d675a31a4c67c71fb28274',
              type: 'scan_completed',
              registry: 'quay.io',
              repo: 'dgangaia/repository',
              tag: 'othertag',
            },
          ],
        },
      },
    },
  },

  artifactory: {
    provider: 'artifactory',
    contentType: 'application/json',
    cases: {
      'docs-artifact-deleted.json': {
        expect: { ignored: 'JFrog artifact "sample_dir/sample.txt" is not a docker manifest' },
      },
      'docs-artifact-deployed.json': {
        expect: { ignored: 'JFrog artifact "sample_dir/sample.txt" is not a docker manifest' },
      },
      'docs-artifact-moved.json': {
        expect: { ignored: 'JFrog artifact event "moved" is not one the gateway forwards' },
      },
      // Only the `data` member, as the docs page shows it: no envelope, so not a webhook body.
      'docs-docker-deleted-data-object.json': {
        detected: false,
        expect: { rejected: ['domain is required', 'data is required'] },
      },
      'docs-docker-pushed-data-object.json': {
        detected: false,
        expect: { rejected: ['domain is required', 'data is required'] },
      },
      'docs-troubleshooting-artifact-deployed-request-body.json': {
        expect: { ignored: 'JFrog artifact "some.log" is not a docker manifest' },
      },
      'keel-test-docker-pushed-envelope.json': {
        expect: {
          events: [
            {
              id: 'artifactory-ea1304de946a6cd84116930b6e2eaee1',
              type: 'push',
              registry: 'example.jfrog.io',
              repo: 'docker-remote-cache/library/ubuntu',
              tag: 'latest',
              digest: 'sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce',
            },
          ],
        },
      },
      // `image_name` is `busybox`; the storage path says the image is `foo/bar/busybox`, as pushed.
      'real-docker-pushed-jfrog-cloud-kargo-pr-4498.json': {
        expect: {
          events: [
            {
              id: 'artifactory-af90d3f96e22e110e019240d90ab6c2e',
              type: 'push',
              registry: 'trial30g6c2.jfrog.io',
              repo: 'test-repo/foo/bar/busybox',
              tag: 'latest',
              digest: 'sha256:2278daae78b8899e6c7192a8a6f49763b9e0cde6fcf94de34f115df4401b955f',
            },
          ],
        },
      },
    },
  },

  gar: {
    provider: 'gar',
    contentType: 'application/json',
    cases: {
      // Decoded message data: each arrives inside a Pub/Sub push envelope.
      'docs-ar-delete-tag.json': {
        request: asPubsubPush,
        expect: {
          events: [
            {
              id: PUBSUB_MESSAGE_ID,
              type: 'delete',
              registry: 'us-west1-docker.pkg.dev',
              repo: 'my-project/my-repo/hello-world',
              tag: '1.1',
              time: PUBSUB_PUBLISH_TIME,
            },
          ],
        },
      },
      'docs-ar-insert-digest-only.json': {
        request: asPubsubPush,
        expect: { rejected: [AR_TRUNCATED('digest', 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world')] },
      },
      'docs-ar-insert-with-tag.json': {
        request: asPubsubPush,
        expect: { rejected: [AR_TRUNCATED('digest', 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world')] },
      },
      'docs-gcr-insert-with-tag-via-voucher.json': {
        request: asPubsubPush,
        expect: { rejected: [AR_TRUNCATED('digest', 'gcr.io/my-project/hello-world')] },
      },
      // JWT claims, not a body (auth/google-oidc tests use the same claim set).
      'pubsub-push-auth-jwt-claims-docs-example.json': {
        detected: false,
        expect: { rejected: ['message is required'] },
      },
      // A real push envelope whose data is not a registry notification.
      'pubsub-push-envelope-generic-not-gar-googleapis-pr661.json': {
        expect: { rejected: ['message.data does not decode to JSON: it is not an Artifact Registry notification'] },
      },
    },
  },

  ecr: {
    provider: 'ecr',
    contentType: 'application/json',
    cases: {
      'api-destination-request-headers-docs.json': {
        detected: false,
        expect: { rejected: ['detail-type is required', 'source is required', 'detail is required'] },
      },
      'docs-image-action-archive.json': {
        expect: { ignored: 'ECR image action "UPDATE_STORAGE_CLASS" is not one the gateway forwards' },
      },
      'docs-image-action-delete.json': { expect: { rejected: [ECR_SHORT_DIGEST] } },
      'docs-image-action-push.json': { expect: { rejected: [ECR_SHORT_DIGEST] } },
      'docs-image-action-restore.json': {
        expect: { ignored: 'ECR image action "UPDATE_STORAGE_CLASS" is not one the gateway forwards' },
      },
      'docs-image-scan-basic.json': { expect: { rejected: [ECR_SHORT_DIGEST] } },
      // `EXAMPLE` in the digest; its date (2023-02-29) would read as 1 March.
      'docs-pull-through-cache-action.json': {
        expect: {
          rejected: [
            'detail.image-digest "sha256:4aa08ef415aecc80814cb42fa41b658480779d80c77ab15EXAMPLE" is not a digest (algorithm:hex)',
          ],
        },
      },
      'docs-referrer-action-restore.json': {
        expect: { ignored: 'ECR event "ECR Referrer Action" is not one the gateway forwards' },
      },
      'docs-replication-action-failed.json': { expect: { ignored: 'ECR replication with result "FAILED"' } },
      'docs-replication-action-success.json': { expect: { rejected: [ECR_SHORT_DIGEST] } },
      'docs-scan-resource-change-enhanced.json': {
        expect: { ignored: 'ECR event "ECR Scan Resource Change" is not one the gateway forwards' },
      },
    },
  },
};
