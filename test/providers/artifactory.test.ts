import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { onlyEvent, rejection } from '../helpers/outcome';

const artifactory = PROVIDERS.find((p) => p.name === 'artifactory')!;
const SAMPLE = JSON.parse(
  readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'artifactory-docker-pushed.json'), 'utf8'),
) as { data: Record<string, unknown>; jpd_origin?: string };
const DIGEST = `sha256:${SAMPLE.data.sha256 as string}`;
const parse = (body: unknown, options: TestContextOptions = {}) =>
  artifactory.parse(inbound(body), parseContext('artifactory', options));
const SUBDOMAIN = { options: { layout: 'subdomain' } };
const withoutOrigin = { ...SAMPLE, jpd_origin: undefined };

describe('providers/artifactory', () => {
  it('repository path layout (default): <jpd>/<repo-key>/<image>, the image from the storage path', () => {
    expect(onlyEvent(parse(SAMPLE))).to.include({
      type: 'push',
      registry: 'acme.jfrog.io',
      repo: 'docker-local/team/web',
      tag: 'v1.4.2',
      digest: DIGEST,
    });
  });

  it('subdomain layout: <repo-key>.<jpd>/<image>', () => {
    expect(onlyEvent(parse(SAMPLE, SUBDOMAIN))).to.include({
      registry: 'docker-local.acme.jfrog.io',
      repo: 'team/web',
    });
  });

  it('deleted is a delete, promoted a push into the repository it names', () => {
    expect(onlyEvent(parse({ ...SAMPLE, event_type: 'deleted' })).type).to.equal('delete');
    expect(onlyEvent(parse({ ...SAMPLE, event_type: 'promoted' })).type).to.equal('push');
  });

  it('without jpd_origin: 400 saying what to set, else the token scope or defaultRegistry names the platform', () => {
    expect(rejection(() => parse(withoutOrigin))).to.deep.equal([
      'jpd_origin is missing, so the registry is unknown: scope the token to exactly one registry or set defaultRegistry.artifactory in the config',
    ]);
    expect(onlyEvent(parse(withoutOrigin, { fallback: 'art.example.com' })).registry).to.equal('art.example.com');
    expect(onlyEvent(parse(withoutOrigin, { fallback: 'art.example.com', ...SUBDOMAIN })).registry).to.equal(
      'docker-local.art.example.com',
    );
    const scoped = { scopeRegistries: ['docker-local.art.example.com'], ...SUBDOMAIN };
    expect(onlyEvent(parse(withoutOrigin, scoped)).registry).to.equal('docker-local.art.example.com');
  });

  it('artifact domain: a docker manifest deployed is a push, any other file is ignored', () => {
    const manifest = { ...SAMPLE, domain: 'artifact', event_type: 'deployed' };
    expect(onlyEvent(parse(manifest))).to.include({ type: 'push', repo: 'docker-local/team/web', tag: 'v1.4.2' });
    const layer = { ...manifest, data: { ...SAMPLE.data, path: 'team/web/_uploads/sha256__abc' } };
    expect(parse(layer)).to.deep.equal({
      kind: 'ignored',
      reason: 'JFrog artifact "team/web/_uploads/sha256__abc" is not a docker manifest',
    });
  });

  it('400 naming placeholders: a checksum that is not SHA-256, an origin that is not a URL', () => {
    const body = {
      ...SAMPLE,
      jpd_origin: 'https://<your_origin>',
      data: { ...SAMPLE.data, sha256: 'sample_checksum' },
    };
    expect(rejection(() => parse(body))).to.deep.equal([
      'data.sha256 "sample_checksum" is not a SHA-256 digest (64 hex digits)',
      'jpd_origin "https://<your_origin>" is not a URL',
    ]);
  });

  it('ignores other domains', () => {
    expect(parse({ ...SAMPLE, domain: 'build', event_type: 'uploaded' })).to.deep.equal({
      kind: 'ignored',
      reason: 'JFrog domain "build" is not one the gateway forwards',
    });
  });
});
