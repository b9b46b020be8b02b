import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProviderName } from '../../src/model/event';
import { detectProvider, PROVIDERS } from '../../src/providers';
import { inbound } from '../helpers/context';

function fixture(folder: string, name: string): any {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', folder, name), 'utf8'));
}

function detected(body: unknown, contentType?: string, headers: Record<string, string> = {}): ProviderName | undefined {
  return detectProvider(inbound(body, contentType, headers))?.name;
}

describe('detectProvider', () => {
  it('lists each provider once, under a name usable as a path segment', () => {
    const names = PROVIDERS.map((p) => p.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const name of names) expect(name).to.match(/^[a-z][a-z0-9-]*$/);
  });

  const cases: [string, string, ProviderName][] = [
    ['acr', 'push-tagged.json', 'acr'],
    ['acr', 'delete-untagged.json', 'acr'],
    ['acr', 'chart-push-no-request.json', 'acr'],
    ['acr', 'ping.json', 'acr'],
    ['acr', 'quarantine.json', 'acr'],
    ['eventgrid', 'eventgrid-batch.json', 'eventgrid'],
    ['eventgrid', 'subscription-validation.json', 'eventgrid'],
    ['eventgrid', 'cloudevent-image-pushed.json', 'eventgrid'],
    ['eventgrid', 'cloudevent-chart-deleted.json', 'eventgrid'],
    ['harbor', 'default-push-tagged.json', 'harbor'],
    ['harbor', 'default-replication.json', 'harbor'],
    ['harbor', 'v1-push-image.json', 'harbor'],
    ['harbor', 'cloudevents-artifact-pushed.json', 'harbor'],
    ['distribution', 'push-sequence.json', 'distribution'],
    ['distribution', 'blob-mount.json', 'distribution'],
  ];
  for (const [folder, file, provider] of cases) {
    it(`${folder}/${file} → ${provider}`, () => {
      expect(detected(fixture(folder, file))).to.equal(provider);
    });
  }

  it('sends a binary-mode Event Grid CloudEvent to eventgrid although its body is an ACR body', () => {
    const body = fixture('eventgrid', 'binary-mode-data.json');
    expect(detected(body)).to.equal('acr');
    expect(
      detected(body, 'application/json', {
        'ce-specversion': '1.0',
        'ce-type': 'Microsoft.ContainerRegistry.ImagePushed',
        'ce-id': '1',
      }),
    ).to.equal('eventgrid');
  });

  it('tells CloudEvents apart by type prefix', () => {
    const data = { resources: [], repository: {} };
    expect(detected({ specversion: '1.0', type: 'harbor.artifact.pushed', id: '1', data })).to.equal('harbor');
    expect(detected({ specversion: '1.0', type: 'Microsoft.ContainerRegistry.ImagePushed', id: '1', data })).to.equal(
      'eventgrid',
    );
    expect(detected({ specversion: '1.0', type: 'dev.knative.other', id: '1', data })).to.equal(undefined);
  });

  it('does not take a body with both action and events for ACR', () => {
    expect(detected({ action: 'push', target: {}, events: [] })).to.equal('distribution');
  });

  it('recognises nothing in bodies no registry sends', () => {
    for (const body of [
      null,
      'push',
      42,
      [],
      [{ action: 'push' }],
      {},
      { action: 'push' },
      { type: 'PUSH_ARTIFACT' },
      { events: 'none' },
      { host: '127.0.0.1:9099', 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
    ]) {
      expect(detected(body), JSON.stringify(body)).to.equal(undefined);
    }
  });
});
