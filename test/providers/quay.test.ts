import { expect } from 'chai';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { eventsOf, rejection } from '../helpers/outcome';

const quay = PROVIDERS.find((p) => p.name === 'quay')!;
const PUSH = { repository: 'acme/web', docker_url: 'quay.example.com:8443/acme/web', updated_tags: ['v1', 'latest'] };
const parse = (body: unknown, requestId = 'request-1') =>
  quay.parse(inbound(body), parseContext('quay', { requestId }));
const ids = (body: unknown, requestId?: string) => eventsOf(parse(body, requestId)).map((e) => e.id);

describe('providers/quay', () => {
  it('one push per updated tag, registry and repository from docker_url', () => {
    expect(eventsOf(parse(PUSH)).map(({ type, registry, repo, tag }) => ({ type, registry, repo, tag }))).to.deep.equal(
      [
        { type: 'push', registry: 'quay.example.com:8443', repo: 'acme/web', tag: 'v1' },
        { type: 'push', registry: 'quay.example.com:8443', repo: 'acme/web', tag: 'latest' },
      ],
    );
  });

  it('list form: each request its own events (nothing in the body tells two pushes apart)', () => {
    expect(ids(PUSH, 'request-1')).to.deep.equal(ids(PUSH, 'request-1'));
    expect(ids(PUSH, 'request-2')[0]).not.to.equal(ids(PUSH, 'request-1')[0]);
  });

  it('map form: the image id tells pushes apart, whatever the request', () => {
    const map = { ...PUSH, updated_tags: { 'v1.2': 'b750fe79269d' } };
    const other = { ...PUSH, updated_tags: { 'v1.2': 'c861ef80370e' } };
    expect(ids(map, 'request-1')).to.deep.equal(ids(map, 'request-2'));
    expect(ids(other)).not.to.deep.equal(ids(map));
    expect(eventsOf(parse(map))[0].tag).to.equal('v1.2');
  });

  it('400 naming what is wrong: a docker_url without a host, tags that are not tags', () => {
    expect(rejection(() => parse({ ...PUSH, docker_url: 'web', updated_tags: ['ok', 'not ok'] }))).to.deep.equal([
      'updated_tags[1] "not ok" is not a tag',
      'docker_url "web" does not name a registry host (host/repository)',
    ]);
    expect(rejection(() => parse({ repository: 'acme/web', docker_url: 'quay.io/acme/web' }))).to.deep.equal([
      'updated_tags is required (a Quay repo_push names the tags it updated)',
    ]);
  });

  it('ignores a push naming no tag, and build notifications', () => {
    expect(parse({ ...PUSH, updated_tags: [] })).to.deep.equal({
      kind: 'ignored',
      reason: 'Quay push notification names no tag',
    });
    expect(parse({ ...PUSH, build_id: 'b-1' })).to.have.property('kind', 'ignored');
  });
});
