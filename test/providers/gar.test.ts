import { expect } from 'chai';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { onlyEvent, rejection } from '../helpers/outcome';
import { PUBSUB_MESSAGE_ID, PUBSUB_PUBLISH_TIME, pubsubPush } from './corpus-registries';

const gar = PROVIDERS.find((p) => p.name === 'gar')!;
const DIGEST = `sha256:${'6ec128e26cd5'.repeat(5)}6ec1`;
const IMAGE = 'europe-west1-docker.pkg.dev/acme-prod/images/web';
const parse = (body: unknown) => gar.parse(inbound(body), parseContext('gar'));

describe('providers/gar', () => {
  it('INSERT with a digest only: an untagged push, id and time from the Pub/Sub message', () => {
    expect(onlyEvent(parse(pubsubPush({ action: 'INSERT', digest: `${IMAGE}@${DIGEST}` })))).to.deep.include({
      id: PUBSUB_MESSAGE_ID,
      type: 'push',
      registry: 'europe-west1-docker.pkg.dev',
      repo: 'acme-prod/images/web',
      digest: DIGEST,
      time: PUBSUB_PUBLISH_TIME,
    });
  });

  it('INSERT with a tag: the tag and the digest; Container Registry names gcr.io', () => {
    const event = onlyEvent(
      parse(pubsubPush({ action: 'INSERT', digest: `gcr.io/acme/web@${DIGEST}`, tag: 'gcr.io/acme/web:v1' })),
    );
    expect(event).to.include({ registry: 'gcr.io', repo: 'acme/web', tag: 'v1', digest: DIGEST });
  });

  it('reads the snake_case message_id when messageId is absent', () => {
    const envelope = pubsubPush({ action: 'DELETE', digest: `${IMAGE}@${DIGEST}` }) as {
      message: Record<string, unknown>;
    };
    const { messageId, ...message } = envelope.message;
    expect(onlyEvent(parse({ ...envelope, message: { ...message, message_id: messageId } })).id).to.equal(
      PUBSUB_MESSAGE_ID,
    );
  });

  it('400 naming the problem: not base64, digest and tag of different images, neither', () => {
    expect(rejection(() => parse({ message: { data: 'not base64!', messageId: '1' } }))).to.deep.equal([
      'message.data is not base64',
    ]);
    expect(
      rejection(() =>
        parse(pubsubPush({ action: 'INSERT', digest: `${IMAGE}@${DIGEST}`, tag: 'gcr.io/acme/other:v1' })),
      ),
    ).to.deep.equal(['message.data.digest and message.data.tag name different images']);
    expect(rejection(() => parse(pubsubPush({ action: 'INSERT' })))).to.deep.equal([
      'message.data.digest or message.data.tag is required',
    ]);
  });

  it('ignores actions other than INSERT and DELETE', () => {
    expect(parse(pubsubPush({ action: 'UPDATE', tag: `${IMAGE}:v1` }))).to.deep.equal({
      kind: 'ignored',
      reason: 'Artifact Registry action "UPDATE" is not one the gateway forwards (INSERT, DELETE)',
    });
  });
});
