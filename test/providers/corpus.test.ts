import { expect } from 'chai';
import type { ProviderName, RegistryEvent } from '../../src/model/event';
import { PayloadError } from '../../src/model/errors';
import { detectProvider, PROVIDERS } from '../../src/providers';
import type { ParseOutcome, RegistryProvider } from '../../src/providers/types';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { fixtureFiles, readFixture } from '../helpers/corpus';
import { MORE_REGISTRIES } from './corpus-registries';
import type { CorpusCase, CorpusFolder, Expected, ExpectedEvent } from './corpus-types';

/**
 * Every real payload in test/corpus/fixtures, against the outcome written down
 * here by hand: the events it becomes, or why it is ignored, or the exact 400. A fixture added
 * to a folder without an expectation here fails, so the corpus cannot grow untested.
 */

const SCOPED_REGISTRY = 'registry.example.com';

const NO_REGISTRY = (field: string, provider: ProviderName) =>
  `${field} is missing, so the registry is unknown: scope the token to exactly one registry or set ` +
  `defaultRegistry.${provider} in the config`;

const PLACEHOLDER_ARM_ID =
  '"/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}/providers/Microsoft.ContainerRegistry/registries/{name}"';
const NOT_AN_ACR_NAME = 'does not name an ACR registry (.../registries/<name>, where <name> is 5-50 letters or digits)';

const MASKED_ACR_CHART_DIGEST =
  'target.digest "sha256:xxxx8075264b5ba7c14c23672xxxx52ae6a3ebac1c47916e4efe19cd624dxxxx" is not a digest (algorithm:hex)';

const ACR_SAMPLE_DIGEST = 'sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d';
const JOLOVCR_DIGEST = 'sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166';
const MYCHART_DIGEST = 'sha256:7f060075264b5ba7c14c23672698152ae6a3ebac1c47916e4efe19cd624d5fab';
const ALPINE_954B = 'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4';
const ALPINE_2BB5 = 'sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14';
const ALPINE_DABE = 'sha256:dabea2944dcc2b86482b4f0b0fb62da80e0673e900c46c0e03b45919881a5d84';
const ALPINE_E802 = 'sha256:e802987f152d7826cf929ad4999fb3bb956ce7a30966aeb46c749f9120eaf22c';
const ALPINE_402D = 'sha256:402d21757a03a114d273bbe372fa4b9eca567e8b6c332fa7ebf982b902207242';
const ALPINE_514E = 'sha256:514ec80ffbe1a2ab1d9a3d5e6082296296a1d8b6870246edf897228e5df2367d';
const BUSYBOX_DDE8 = 'sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c';

const CORPUS: Record<string, CorpusFolder> = {
  acr: {
    provider: 'acr',
    contentType: 'application/json',
    cases: {
      'argocd-image-updater-captured-push.json': {
        expect: {
          events: [
            {
              id: 'ea889308-3834-4a1d-a631-cadc572dab91',
              type: 'push',
              registry: 'mojrodevops.azurecr.io',
              repo: 'hello-world',
              tag: 'test-v1',
              digest: 'sha256:c766679d161d4ffe3dc4503b4c9f90b978f0d363fcedb02d1ae0cd271e645c0a',
              time: '2026-06-01T12:22:07.0958813Z',
            },
          ],
        },
      },
      // Masked host `[registry].azurecr.io` and a digest truncated to `sha256:91ef6`: a 400.
      // The digest is reported first; the host would be refused next.
      'azure-acr-preview-quarantine.json': {
        expect: { rejected: ['target.digest "sha256:91ef6" is not a digest (algorithm:hex)'] },
      },
      'docs-2017-delete.json': {
        expect: {
          events: [
            {
              id: 'afc359ce-df7f-4e32-bdde-1ff8aa80927b',
              type: 'delete',
              registry: 'myregistry.azurecr.io',
              repo: 'hello-world',
              digest: ACR_SAMPLE_DIGEST,
            },
          ],
        },
      },
      'docs-2017-push.json': {
        expect: {
          events: [
            {
              id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5',
              type: 'push',
              registry: 'myregistry.azurecr.io',
              repo: 'hello-world',
              tag: 'v1',
              digest: ACR_SAMPLE_DIGEST,
              time: '2017-11-17T16:52:01.343145347Z',
            },
          ],
        },
      },
      // The docs mask the digest (`sha256:xxxx...`): it names no content, so a 400 on the
      // digest, whatever registry the token supplies for these request-less chart events.
      'docs-2023-chart-delete.json': {
        expect: { rejected: [MASKED_ACR_CHART_DIGEST] },
        withOneRegistry: { rejected: [MASKED_ACR_CHART_DIGEST] },
      },
      'docs-2023-chart-push.json': {
        expect: { rejected: [MASKED_ACR_CHART_DIGEST] },
        withOneRegistry: { rejected: [MASKED_ACR_CHART_DIGEST] },
      },
      'jenkins-dockerhub-notification-acr-payload-valid.json': {
        expect: {
          events: [
            {
              id: '52ba983c-67d6-11e8-8c71-4a0006ae5a20',
              type: 'push',
              registry: 'myregistry.azurecr.io',
              repo: 'hello-world',
              tag: 'v1',
              digest: 'sha256:f5233545e43561214ca4891fd1157e1c3c563316ed8e237750d59bde73361e77',
            },
          ],
        },
      },
      // An ARM "list webhook events" response, not a webhook body: no provider claims it, and
      // the ACR parser refuses it naming the fields a webhook has (its inner content is tested
      // separately below).
      'rest-api-spec-2019-05-01-WebhookListEvents-example.json': {
        detected: false,
        expect: { rejected: ['action is required', 'id is required', 'target is required'] },
      },
    },
  },

  'eventgrid-acr': {
    provider: 'eventgrid',
    contentType: 'application/json',
    contentTypeOf: (file) => (file.includes('cloudevents') ? 'application/cloudevents+json' : 'application/json'),
    cases: {
      // `topic` holds `<name>`, but the image event's request.host names the registry.
      'docs-2019-eventgrid-schema-array-image-pushed.json': {
        expect: {
          events: [
            {
              id: '831e1650-001e-001b-66ab-eeb76e069631',
              type: 'push',
              registry: 'demo.azurecr.io',
              repo: 'aci-helloworld',
              tag: 'v1',
              digest: 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5',
              time: '2018-04-25T21:39:47.6549614Z',
            },
          ],
        },
      },
      // Chart events name their registry only in the ARM id, a `{name}` placeholder here.
      'rest-api-spec-cloudevents-schema-chart-deleted.json': {
        expect: {
          rejected: [`source ${PLACEHOLDER_ARM_ID} ${NOT_AN_ACR_NAME}`, NO_REGISTRY('data.request.host', 'eventgrid')],
        },
        withOneRegistry: {
          events: [
            {
              id: '39136b3a-1a7e-416f-a09e-5c85d5402fca',
              type: 'chart_delete',
              registry: SCOPED_REGISTRY,
              repo: 'repo',
              tag: 'mychart-1.0.0.tgz',
              digest: MYCHART_DIGEST,
              time: '2019-03-12T22:42:08.7034064Z',
            },
          ],
        },
      },
      'rest-api-spec-cloudevents-schema-chart-pushed.json': {
        expect: {
          rejected: [`source ${PLACEHOLDER_ARM_ID} ${NOT_AN_ACR_NAME}`, NO_REGISTRY('data.request.host', 'eventgrid')],
        },
        withOneRegistry: {
          events: [
            {
              id: 'ea3a9c28-5b17-40f6-a500-3f02b6829277',
              type: 'chart_push',
              registry: SCOPED_REGISTRY,
              repo: 'repo',
              tag: 'mychart-1.0.0.tgz',
              digest: MYCHART_DIGEST,
            },
          ],
        },
      },
      // Spells `specVersion`: accepted as the known typo of Microsoft's example.
      'rest-api-spec-cloudevents-schema-image-deleted.json': {
        expect: {
          events: [
            {
              id: '6fdef14c-2594-41e8-9156-c0376eb0a190',
              type: 'delete',
              registry: 'jolovcr.azurecr.io',
              repo: 'samples/nginx',
              digest: JOLOVCR_DIGEST,
              time: '2021-09-08T06:49:40.5342401Z',
            },
          ],
        },
      },
      'rest-api-spec-cloudevents-schema-image-pushed.json': {
        expect: {
          events: [
            {
              id: 'c25fdb80-ebbd-4dd0-a29c-a7349e6388f6',
              type: 'push',
              registry: 'jolovcr.azurecr.io',
              repo: 'samples/nginx',
              tag: 'latest',
              digest: JOLOVCR_DIGEST,
              time: '2021-09-08T06:37:45.6609948Z',
            },
          ],
        },
      },
      'rest-api-spec-eventgrid-schema-chart-deleted.json': {
        expect: {
          rejected: [`topic ${PLACEHOLDER_ARM_ID} ${NOT_AN_ACR_NAME}`, NO_REGISTRY('data.request.host', 'eventgrid')],
        },
        withOneRegistry: {
          events: [
            {
              id: '39136b3a-1a7e-416f-a09e-5c85d5402fca',
              type: 'chart_delete',
              registry: SCOPED_REGISTRY,
              repo: 'repo',
              tag: 'mychart-1.0.0.tgz',
              digest: MYCHART_DIGEST,
            },
          ],
        },
      },
      'rest-api-spec-eventgrid-schema-chart-pushed.json': {
        expect: {
          rejected: [`topic ${PLACEHOLDER_ARM_ID} ${NOT_AN_ACR_NAME}`, NO_REGISTRY('data.request.host', 'eventgrid')],
        },
        withOneRegistry: {
          events: [
            {
              id: 'ea3a9c28-5b17-40f6-a500-3f02b6829277',
              type: 'chart_push',
              registry: SCOPED_REGISTRY,
              repo: 'repo',
              tag: 'mychart-1.0.0.tgz',
              digest: MYCHART_DIGEST,
              time: '2019-03-12T22:16:31.5164086Z',
            },
          ],
        },
      },
      'rest-api-spec-eventgrid-schema-image-deleted.json': {
        expect: {
          events: [
            {
              id: '6fdef14c-2594-41e8-9156-c0376eb0a190',
              type: 'delete',
              registry: 'jolovcr.azurecr.io',
              repo: 'samples/nginx',
              digest: JOLOVCR_DIGEST,
            },
          ],
        },
      },
      'rest-api-spec-eventgrid-schema-image-pushed.json': {
        expect: {
          events: [
            {
              id: 'c25fdb80-ebbd-4dd0-a29c-a7349e6388f6',
              type: 'push',
              registry: 'jolovcr.azurecr.io',
              repo: 'samples/nginx',
              tag: 'latest',
              digest: JOLOVCR_DIGEST,
              time: '2021-09-08T06:37:45.6609948Z',
            },
          ],
        },
      },
    },
  },

  harbor: {
    provider: 'harbor',
    contentType: 'application/json',
    cases: {
      'docs-v2.0-push-artifact-tagged.json': {
        expect: {
          events: [
            {
              id: 'harbor-6ffed0f73ba4d863a6c8766b14101853',
              type: 'push',
              registry: 'hub.harbor.com',
              repo: 'test-webhook/debian',
              tag: 'latest',
              digest: 'sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8',
              time: '2020-04-15T03:45:08Z',
            },
          ],
        },
      },
      'docs-v2.8-delete-artifact.json': {
        expect: {
          events: [
            {
              id: 'harbor-ba334d8137c922c5cefb812930873c5f',
              type: 'delete',
              registry: 'localhost',
              repo: 'harbor/alpine',
              tag: '3.8',
              digest: ALPINE_2BB5,
            },
          ],
        },
      },
      // Pulled by digest: `tag` holds the digest, so no tag.
      'docs-v2.8-pull-artifact.json': {
        expect: {
          events: [
            {
              id: 'harbor-799390bcc01dfa272cf6f50c82b6a149',
              type: 'pull',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
            },
          ],
        },
      },
      // Pushed by replication: `tag` holds the digest, so no tag.
      'docs-v2.8-push-artifact.json': {
        expect: {
          events: [
            {
              id: 'harbor-7e9591313969942d45117eeaec05b373',
              type: 'push',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
              time: '2023-04-03T06:04:53Z',
            },
          ],
        },
      },
      // Quota events carry no resource_url and no harbor_hostname: the registry must come from
      // the token scope or defaultRegistry.harbor.
      'docs-v2.8-quota-exceed.json': {
        expect: { rejected: [NO_REGISTRY('host of event_data.resources[0].resource_url', 'harbor')] },
        withOneRegistry: {
          events: [
            {
              id: 'harbor-8e50a6ca07d3d83e73783585ba669b6a',
              type: 'quota_exceeded',
              registry: SCOPED_REGISTRY,
              repo: 'harbor/alpine',
              digest: ALPINE_402D,
              time: '2023-04-03T07:04:44Z',
            },
          ],
        },
      },
      'docs-v2.8-quota-warning.json': {
        expect: { rejected: [NO_REGISTRY('host of event_data.resources[0].resource_url', 'harbor')] },
        withOneRegistry: {
          events: [
            {
              id: 'harbor-54693d8f820b2f1126b708f450ab6e6f',
              type: 'quota_warning',
              registry: SCOPED_REGISTRY,
              repo: 'harbor/alpine',
              digest: ALPINE_514E,
            },
          ],
        },
      },
      'docs-v2.8-replication.json': {
        expect: {
          events: [
            {
              id: 'harbor-2380aeadd08053d43390077709e483a6',
              type: 'replication',
              registry: 'localhost',
              time: '2023-04-03T06:05:04Z',
            },
          ],
        },
      },
      'docs-v2.8-scanning-completed.json': {
        expect: {
          events: [
            {
              id: 'harbor-95dfba8d1c76d3bba9deb6c9cca75d06',
              type: 'scan_completed',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
            },
          ],
        },
      },
      'docs-v2.8-scanning-failed.json': {
        expect: {
          events: [
            {
              id: 'harbor-7c728cf732e50aa5e3244e0f082cc39f',
              type: 'scan_failed',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_DABE,
            },
          ],
        },
      },
      'docs-v2.8-scanning-stopped.json': {
        expect: {
          events: [
            {
              id: 'harbor-ebc8b2f6aea41a54b2a4cfc4e74f7251',
              type: 'scan_stopped',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_E802,
            },
          ],
        },
      },
      'docs-v2.8-tag-retention.json': {
        expect: {
          events: [{ id: 'harbor-b40801f1d1565bf75e01577798b11434', type: 'tag_retention', registry: 'localhost' }],
        },
      },
      'goharbor-issue-18428-tag-retention-v2.6.json': {
        expect: {
          events: [
            {
              id: 'harbor-b09d55ad7affb29d0901dbdc38e4e610',
              type: 'tag_retention',
              registry: '10.202.250.222',
              time: '2023-03-27T02:59:01Z',
            },
          ],
        },
      },
      // The issue redacts the host to `harbor....`: a 400 naming where the host was read.
      'goharbor-issue-19982-push-artifact-proxy-cache-v2.7.json': {
        expect: { rejected: ['host of event_data.resources[0].resource_url "harbor...." is not a registry host name'] },
      },
      // Partly synthetic test data: the quay.io host is taken as sent.
      'keel-test-push-artifact.json': {
        expect: {
          events: [
            {
              id: 'harbor-4666e58d5ee347ab54b250e7cd9aa78d',
              type: 'push',
              registry: 'quay.io',
              repo: 'mynamespace/repository',
              tag: 'latest',
              digest: 'sha256:b4758aaed11c155a476b9857e1178f157759c99cb04c907a04993f5481eff848',
            },
          ],
        },
      },
      'keel-test-v1.10-pushImage.json': {
        expect: {
          events: [
            {
              id: 'harbor-97514a60a127d7d5e8419cdaf6f0b61f',
              type: 'push',
              registry: 'harbor.mydomain.com',
              repo: 'library/ai-rag',
              tag: '1.2.3',
              digest: 'sha256:b4758aaed11c155a476b9857e1178f157759c99cb04c907a04993f5481eff848',
            },
          ],
        },
      },
      'source-default-go-pull-artifact-by-digest.json': {
        expect: {
          events: [
            {
              id: 'harbor-1263cc68af345b4bf9ab7bb6aff1dcd5',
              type: 'pull',
              registry: 'harbor.dev',
              repo: 'library/busybox',
              digest: BUSYBOX_DDE8,
            },
          ],
        },
      },
      // Chart URL with scheme and port; a chart has a version (the tag) and no digest.
      'unattributed-go-test-upload-chart-v2.x.json': {
        expect: {
          events: [
            {
              id: 'harbor-3aef0a9ded1660e0420784346259fcb7',
              type: 'chart_push',
              registry: 'harbor.domain.com:5002',
              repo: 'chart-dg/ale-task-job-executor-supervision',
              tag: '0.1.0',
              time: '2022-06-23T04:48:40Z',
            },
          ],
        },
      },
      // Trimmed sample: no occur_at (receipt time), no operator, and resource_url
      // `some-image-ref:latest` has no host part, so the registry comes from the fallbacks.
      'unattributed-makefile-scanning-completed-partial-with-vulns.json': {
        expect: { rejected: [NO_REGISTRY('host of event_data.resources[0].resource_url', 'harbor')] },
        withOneRegistry: {
          events: [
            {
              id: 'harbor-3de96e482b1129847de64ea6d36f7b3e',
              type: 'scan_completed',
              registry: SCOPED_REGISTRY,
              repo: 'library/dev/xxx/xxx-front',
              tag: 'latest',
              digest: 'sha256:f302741af6fa1e2ebfead5a7828d953816e8e9eca773d812ca8a95637d414401',
            },
          ],
        },
      },
      'veba-kn-go-harbor-webhook-pull-artifact-by-digest.json': {
        expect: {
          events: [
            {
              id: 'harbor-a1276cbdb377bfca311278dc52b364e6',
              type: 'pull',
              registry: 'harbor-app.jarvis.tanzu',
              repo: 'veba-test/csi-test',
              digest: 'sha256:3b465cbcadf7d437fc70c3b6aa2c93603a7eef0a3f5f1e861d91f303e4aabdee',
            },
          ],
        },
      },
    },
  },

  'harbor-cloudevents': {
    provider: 'harbor',
    contentType: 'application/cloudevents+json',
    cases: {
      'docs-v2.8-artifact-deleted.json': {
        expect: {
          events: [
            {
              id: '343f1623-7cba-487c-88f1-c5ebf55e93aa',
              type: 'delete',
              registry: 'localhost',
              repo: 'harbor/alpine',
              tag: '3.8',
              digest: ALPINE_2BB5,
              time: '2023-04-03T06:16:38Z',
            },
          ],
        },
      },
      'docs-v2.8-artifact-pulled.json': {
        expect: {
          events: [
            {
              id: '718eab63-2efa-4f88-8c27-8bcacc34929b',
              type: 'pull',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
            },
          ],
        },
      },
      'docs-v2.8-artifact-pushed.json': {
        expect: {
          events: [
            {
              id: '66e18103-09c1-41f6-982f-37df223f3eeb',
              type: 'push',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
              time: '2023-04-03T06:04:46Z',
            },
          ],
        },
      },
      'docs-v2.8-quota-exceeded.json': {
        expect: { rejected: [NO_REGISTRY('host of data.resources[0].resource_url', 'harbor')] },
        withOneRegistry: {
          events: [
            {
              id: '81f243ce-699c-44d6-9dbe-b2ee5f10237a',
              type: 'quota_exceeded',
              registry: SCOPED_REGISTRY,
              repo: 'harbor/alpine',
              digest: ALPINE_402D,
            },
          ],
        },
      },
      'docs-v2.8-quota-warned.json': {
        expect: { rejected: [NO_REGISTRY('host of data.resources[0].resource_url', 'harbor')] },
        withOneRegistry: {
          events: [
            {
              id: '1267b437-ea5a-4e06-bbe5-75e6fde733d3',
              type: 'quota_warning',
              registry: SCOPED_REGISTRY,
              repo: 'harbor/alpine',
              digest: ALPINE_514E,
              time: '2023-04-03T07:07:33Z',
            },
          ],
        },
      },
      'docs-v2.8-replication-status-changed.json': {
        expect: {
          events: [{ id: 'e3005250-ffa8-4a10-af92-91fe25cca22c', type: 'replication', registry: 'localhost' }],
        },
      },
      'docs-v2.8-scan-completed.json': {
        expect: {
          events: [
            {
              id: '64bce2fe-6159-454d-8389-852d01ef1e9d',
              type: 'scan_completed',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_954B,
            },
          ],
        },
      },
      'docs-v2.8-scan-failed.json': {
        expect: {
          events: [
            {
              id: 'bdfe1de3-c069-4efc-b4f4-1a75c9a148c4',
              type: 'scan_failed',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_DABE,
            },
          ],
        },
      },
      'docs-v2.8-scan-stopped.json': {
        expect: {
          events: [
            {
              id: 'a8a03301-9e31-433f-ace3-240ac16f17b7',
              type: 'scan_stopped',
              registry: 'localhost',
              repo: 'harbor/alpine',
              digest: ALPINE_E802,
            },
          ],
        },
      },
      'docs-v2.8-tag-retention-finished.json': {
        expect: {
          events: [
            {
              id: 'a8618595-6fa0-4cf4-afdc-870459b1d7f6',
              type: 'tag_retention',
              registry: 'localhost',
              time: '2023-04-03T06:16:38Z',
            },
          ],
        },
      },
      // Masked with `***` in the issue: the repository and the digest are not valid names, so a
      // 400 that names both (the masked host would be refused next).
      'goharbor-issue-22212-scan-completed-scheduled-no-overview.json': {
        expect: {
          rejected: [
            'data.repository.repo_full_name "library/****" is not a repository name',
            'data.resources[0].digest "sha256:***" is not a digest (algorithm:hex)',
          ],
        },
      },
      'source-cloudevents-go-artifact-pulled.json': {
        expect: {
          events: [
            {
              id: '4b2f89a6-548d-4c12-9993-a1f5790b97d2',
              type: 'pull',
              registry: 'harbor.dev',
              repo: 'library/busybox',
              digest: BUSYBOX_DDE8,
              time: '2023-03-06T06:08:43Z',
            },
          ],
        },
      },
    },
  },

  distribution: {
    provider: 'distribution',
    contentType: 'application/vnd.docker.distribution.events.v1+json',
    cases: {
      'registry-2.8.2-blob-push-0.json': { expect: { ignored: 'no manifest event to forward: blob push' } },
      'registry-2.8.2-blob-push-1.json': { expect: { ignored: 'no manifest event to forward: blob push' } },
      'registry-2.8.2-manifest-push-tagged.json': {
        expect: {
          events: [
            {
              id: '93f0380d-4db4-4214-8cda-a4903d5618cf',
              type: 'push',
              registry: '127.0.0.1:5055',
              repo: 'team/app',
              tag: 'v1',
              digest: 'sha256:762489fa225143515bb1a99da12f7e3fc7947e802965b2d17506775497a2617d',
              time: '2026-11-21T14:16:33.009206585Z',
            },
          ],
        },
      },
      // Captured request headers, not a body: nothing claims it, and as a body it is refused.
      'registry-2.8.2-request-headers.json': {
        detected: false,
        expect: { rejected: ['events is required'] },
      },
    },
  },
  ...MORE_REGISTRIES,
};

function parserFor(provider: ProviderName): RegistryProvider {
  const parser = PROVIDERS.find((p) => p.name === provider);
  if (!parser) throw new Error(`no parser for ${provider}`);
  return parser;
}

/** The request a fixture arrives as: its body, wrapped or given headers where the case says so. */
function requestOf(folder: string, file: string, expectation: CorpusCase | undefined) {
  const { body } = readFixture(folder, file);
  return { headers: {}, ...(expectation?.request?.(body) ?? { body }) };
}

function run(
  parser: RegistryProvider,
  body: unknown,
  contentType: string,
  options: TestContextOptions,
  headers: Record<string, string> = {},
): ParseOutcome | { rejected: string[] } {
  try {
    return parser.parse(inbound(body, contentType, headers), parseContext(parser.name, options));
  } catch (error) {
    if (error instanceof PayloadError) return { rejected: error.errors };
    throw error;
  }
}

/** The fields the table pins, so a mismatch shows as a readable diff. */
function pinned(event: RegistryEvent, expected: ExpectedEvent): ExpectedEvent {
  const out: ExpectedEvent = { id: event.id, type: event.type, registry: event.registry };
  if (event.repo !== undefined) out.repo = event.repo;
  if (event.tag !== undefined) out.tag = event.tag;
  if (event.digest !== undefined) out.digest = event.digest;
  if (expected.time !== undefined) out.time = event.time;
  return out;
}

function assertOutcome(
  actual: ParseOutcome | { rejected: string[] },
  expected: Expected,
  provider: ProviderName,
  body: unknown,
): void {
  if ('rejected' in expected) {
    expect(actual, 'a 400').to.deep.equal({ rejected: expected.rejected });
  } else if ('ignored' in expected) {
    expect(actual).to.deep.equal({ kind: 'ignored', reason: expected.ignored });
  } else {
    if (!('kind' in actual) || actual.kind !== 'events')
      throw new Error(`expected events, got ${JSON.stringify(actual)}`);
    expect(actual.events.map((e, i) => pinned(e, expected.events[i] ?? {}))).to.deep.equal(expected.events);
    for (const event of actual.events) {
      expect(event.provider).to.equal(provider);
      expect(event.source).to.equal(parserFor(provider).defaultSource);
      expect(Number.isNaN(Date.parse(event.time)), event.time).to.equal(false);
      expect(event.payload, 'payload is the body or the element of it the event came from').to.satisfy(
        (payload: unknown) =>
          payload === body ||
          (Array.isArray(body) && body.includes(payload)) ||
          (typeof body === 'object' &&
            body !== null &&
            Array.isArray((body as { events?: unknown[] }).events) &&
            (body as { events: unknown[] }).events.includes(payload)),
      );
    }
  }
}

describe('shared fixture corpus', () => {
  for (const [folder, spec] of Object.entries(CORPUS)) {
    describe(folder, () => {
      const files = fixtureFiles(folder);

      it('has an expectation for every file, and every expectation has its file', function () {
        expect(Object.keys(spec.cases).sort()).to.deep.equal(files);
      });

      for (const file of files) {
        describe(file, () => {
          const expectation = spec.cases[file];
          const contentType = spec.contentTypeOf?.(file) ?? spec.contentType;
          const parser = parserFor(spec.provider);

          it('has an expectation written in this table', () => {
            expect(expectation, `add ${folder}/${file} to CORPUS in ${__filename}`).to.not.equal(undefined);
          });
          if (!expectation) return;

          it(
            expectation.detected === false ? 'is not claimed by auto-detection' : `is detected as ${spec.provider}`,
            () => {
              const { body, headers } = requestOf(folder, file, expectation);
              const detected = detectProvider(inbound(body, contentType, headers))?.name;
              expect(detected).to.equal(expectation.detected === false ? undefined : spec.provider);
            },
          );

          it(`parses with no fallback registry: ${Object.keys(expectation.expect)[0]}`, () => {
            const { body, headers } = requestOf(folder, file, expectation);
            assertOutcome(run(parser, body, contentType, {}, headers), expectation.expect, spec.provider, body);
          });

          if (expectation.withOneRegistry) {
            const withOne = expectation.withOneRegistry;
            it(`parses with a token scoped to one registry: ${Object.keys(withOne)[0]}`, () => {
              const { body, headers } = requestOf(folder, file, expectation);
              assertOutcome(
                run(parser, body, contentType, { scopeRegistries: [SCOPED_REGISTRY] }, headers),
                withOne,
                spec.provider,
                body,
              );
            });
          }

          it('gives the same outcome when parsed again (ids are stable)', () => {
            const { body, headers } = requestOf(folder, file, expectation);
            const options = expectation.withOneRegistry ? { scopeRegistries: [SCOPED_REGISTRY] } : {};
            const ids = (outcome: ParseOutcome | { rejected: string[] }) =>
              'kind' in outcome && outcome.kind === 'events' ? outcome.events.map((e) => e.id) : outcome;
            const again = requestOf(folder, file, expectation);
            expect(ids(run(parser, body, contentType, options, headers))).to.deep.equal(
              ids(run(parser, again.body, contentType, options, again.headers)),
            );
          });
        });
      }
    });
  }

  it('acr/rest-api-spec-...-WebhookListEvents-example.json: the webhook body inside it is an ACR push', function () {
    const file = 'rest-api-spec-2019-05-01-WebhookListEvents-example.json';
    const { body } = readFixture('acr', file) as { body: any };
    const content = body.responses['200'].body.value[0].eventRequestMessage.content;
    expect(detectProvider(inbound(content))?.name).to.equal('acr');
    assertOutcome(
      run(parserFor('acr'), content, 'application/json', {}),
      {
        events: [
          {
            id: '00000000-0000-0000-0000-000000000000',
            type: 'push',
            registry: '192.168.100.227:5000',
            repo: 'hello-world',
            tag: 'latest',
            digest: 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf',
          },
        ],
      },
      'acr',
      content,
    );
  });

  it("ghcr/headers-example.json: GitHub's documented headers name an issues event, which is ignored", function () {
    const documented = readFixture('ghcr', 'headers-example.json').body as Record<string, string>;
    const headers = Object.fromEntries(Object.entries(documented).map(([k, v]) => [k.toLowerCase(), v]));
    const { body } = readFixture('ghcr', 'package-published-container-multiarch-real-theryangeary.json');
    expect(detectProvider(inbound(body, 'application/json', headers))?.name).to.equal('ghcr');
    assertOutcome(
      run(parserFor('ghcr'), body, 'application/json', {}, headers),
      { ignored: 'GitHub event "issues" is not a package event the gateway forwards (package, registry_package)' },
      'ghcr',
      body,
    );
    const asPackage = { ...headers, 'x-github-event': 'package' };
    const outcome = run(parserFor('ghcr'), body, 'application/json', {}, asPackage);
    expect('kind' in outcome && outcome.kind === 'events' && outcome.events[0].id).to.equal(
      headers['x-github-delivery'],
    );
  });
});
