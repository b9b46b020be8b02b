import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AcrParser } from '../../src/providers/acr';
import type { ParseOutcome } from '../../src/providers/types';
import { inbound, parseContext, type TestContextOptions } from '../helpers/context';
import { onlyEvent, rejection } from '../helpers/outcome';

function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'acr', name), 'utf8'));
}

const parser = new AcrParser();

function parse(body: unknown, options: TestContextOptions = {}): ParseOutcome {
  return parser.parse(inbound(body), parseContext('acr', options));
}

describe('AcrParser', () => {
  it('normalises a tagged push', () => {
    const body = fixture('push-tagged.json');
    expect(onlyEvent(parse(body))).to.deep.equal({
      id: '5f0c2a4e-8d1b-4c3e-9a77-0e6b2d4f1a01',
      provider: 'acr',
      source: 'brigade.sh/acr',
      type: 'push',
      registry: 'contoso.azurecr.io',
      repo: 'team/web',
      tag: 'v2.3.1',
      digest: 'sha256:0d1c3b3e8f5a0f4e6c7b9a8d2e1f3c5b7a9d0e2f4a6c8e0b2d4f6a8c0e2b4d6f',
      time: '2024-05-02T09:15:30.1234567Z',
      kind: 'image',
      payload: body,
    });
  });

  it('leaves tag out of an untagged manifest delete', () => {
    const event = onlyEvent(parse(fixture('delete-untagged.json')));
    expect(event.type).to.equal('delete');
    expect(event).not.to.have.property('tag');
    expect(event.digest).to.match(/^sha256:0d1c/);
  });

  it('forwards quarantine', () => {
    expect(onlyEvent(parse(fixture('quarantine.json'))).type).to.equal('quarantine');
  });

  it('acknowledges ping without an event', () => {
    expect(parse(fixture('ping.json'))).to.deep.equal({ kind: 'ignored', reason: 'ACR ping' });
  });

  it('ignores actions outside the vocabulary, including Object.prototype names', () => {
    for (const action of ['scan', 'constructor', 'toString']) {
      const outcome = parse({ ...fixture('push-tagged.json'), action });
      expect(outcome.kind, action).to.equal('ignored');
    }
  });

  it('lower-cases the host and maps it through the aliases', () => {
    const body = fixture('push-tagged.json');
    body.request.host = 'Contoso-WestEurope.AzureCR.io';
    const event = onlyEvent(parse(body, { aliases: { 'contoso-westeurope.azurecr.io': 'contoso.azurecr.io' } }));
    expect(event.registry).to.equal('contoso.azurecr.io');
  });

  it('keeps a port in the host', () => {
    const body = fixture('push-tagged.json');
    body.request.host = 'registry.internal:5000';
    expect(onlyEvent(parse(body)).registry).to.equal('registry.internal:5000');
  });

  describe('chart events, which name no registry', () => {
    it('refuse with a 400 that says how to supply one', () => {
      expect(rejection(() => parse(fixture('chart-push-no-request.json')))).to.deep.equal([
        'request.host is missing, so the registry is unknown: scope the token to exactly one ' +
          'registry or set defaultRegistry.acr in the config',
      ]);
    });

    it('take the registry from a token scoped to one registry', () => {
      const event = onlyEvent(
        parse(fixture('chart-push-no-request.json'), { scopeRegistries: ['contoso.azurecr.io'] }),
      );
      expect(event).to.include({
        type: 'chart_push',
        registry: 'contoso.azurecr.io',
        repo: 'charts',
        tag: 'web-1.4.0.tgz',
      });
    });

    it('take defaultRegistry.acr when the scope does not name exactly one', () => {
      const event = onlyEvent(
        parse(fixture('chart-push-no-request.json'), {
          scopeRegistries: ['a.azurecr.io', 'b.azurecr.io'],
          fallback: 'contoso.azurecr.io',
        }),
      );
      expect(event.registry).to.equal('contoso.azurecr.io');
    });

    it('reads chart_delete the same way', () => {
      const body = { ...fixture('chart-push-no-request.json'), action: 'chart_delete' };
      expect(onlyEvent(parse(body, { fallback: 'contoso.azurecr.io' })).type).to.equal('chart_delete');
    });
  });

  it('lists every malformed field at once', () => {
    const body = fixture('push-tagged.json');
    body.id = 42;
    body.target.repository = 'Team/Web';
    body.target.digest = 'sha256:xxxx';
    body.timestamp = 'yesterday';
    expect(rejection(() => parse(body))).to.have.members([
      'id must be a string, got a number',
      'target.repository "Team/Web" is not a repository name',
      'target.digest "sha256:xxxx" is not a digest (algorithm:hex)',
      'timestamp "yesterday" is not an RFC 3339 timestamp',
    ]);
  });

  it('uses the receipt time when the payload has no timestamp', () => {
    const body = fixture('push-tagged.json');
    delete body.timestamp;
    const before = Date.now();
    const time = Date.parse(onlyEvent(parse(body)).time);
    expect(time).to.be.within(before - 1000, Date.now() + 1000);
  });

  it('refuses a body that is not an object', () => {
    expect(rejection(() => parse([fixture('push-tagged.json')]))[0]).to.match(/^body must be a JSON object/);
  });
});
