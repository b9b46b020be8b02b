import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { onlyEvent, rejection } from '../helpers/outcome';
import { readFixture } from '../helpers/corpus';
import { GITHUB_DELIVERY, githubHeaders } from './corpus-registries';

const ghcr = PROVIDERS.find((p) => p.name === 'ghcr')!;
const SAMPLE = JSON.parse(
  readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'ghcr-package-published.json'), 'utf8'),
) as { package: Record<string, unknown> };
const parse = (body: unknown, headers = githubHeaders('package')) =>
  ghcr.parse(inbound(body, 'application/json', headers), parseContext('ghcr'));

describe('providers/ghcr', () => {
  it('a published container version is a push of ghcr.io/<owner>/<package>, id from X-GitHub-Delivery', () => {
    expect(onlyEvent(parse(SAMPLE))).to.include({
      id: GITHUB_DELIVERY,
      type: 'push',
      registry: 'ghcr.io',
      repo: 'acme/web',
      tag: 'v1.4.2',
      time: '2026-11-20T09:15:02Z',
    });
    expect(onlyEvent(parse({ ...SAMPLE, action: 'updated' })).type).to.equal('push');
  });

  it('names the image in lower case, as GHCR does, whatever the case of the login', () => {
    const body = { ...SAMPLE, package: { ...SAMPLE.package, owner: { login: 'Acme-Corp' }, name: 'Web' } };
    expect(onlyEvent(parse(body)).repo).to.equal('acme-corp/web');
  });

  it('ignores ping, other events and other actions', () => {
    expect(parse({ zen: 'Design for failure.' }, githubHeaders('ping'))).to.deep.equal({
      kind: 'ignored',
      reason: 'GitHub ping',
    });
    expect(parse(SAMPLE, githubHeaders('push'))).to.have.property('kind', 'ignored');
    expect(parse({ ...SAMPLE, action: 'deleted' })).to.deep.equal({
      kind: 'ignored',
      reason: 'GitHub package action "deleted" is not one the gateway forwards (published, updated)',
    });
  });

  it('400 without X-GitHub-Delivery, the id of every delivery', () => {
    expect(rejection(() => parse(SAMPLE, { 'x-github-event': 'package' }))).to.deep.equal([
      'the X-GitHub-Delivery header is required: it is the id GitHub gives each delivery',
    ]);
  });

  it("octokit's example as a container package: its 40-digit digest is refused, naming the field", function () {
    const body = readFixture('ghcr', 'package-published-container-octokit-example.json').body as {
      package: Record<string, unknown>;
    };
    const container = { ...body, package: { ...body.package, package_type: 'CONTAINER' } };
    expect(rejection(() => parse(container))).to.deep.equal([
      'package.package_version.container_metadata.tag.digest "sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b" is not a digest (algorithm:hex)',
    ]);
  });
});
