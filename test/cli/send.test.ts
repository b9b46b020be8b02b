import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sendCommand } from '../../src/cli/send';
import { contentTypeFor } from '../../src/providers';
import { tempDir } from '../helpers/gateway-process';
import { interceptHttpDuringSuite, nock } from '../helpers/nock';

function recorder() {
  const lines = { info: [] as string[], error: [] as string[] };
  return { lines, out: { info: (l: string) => lines.info.push(l), error: (l: string) => lines.error.push(l) } };
}

describe('cli/send', () => {
  interceptHttpDuringSuite();
  afterEach(() => nock.cleanAll());

  it('picks the Content-Type each registry uses for the body shape', () => {
    expect(contentTypeFor({ action: 'push', target: {} })).to.equal('application/json');
    expect(contentTypeFor([{ eventType: 'Microsoft.ContainerRegistry.ImagePushed' }])).to.equal('application/json');
    expect(contentTypeFor({ specversion: '1.0', type: 'harbor.artifact.pushed' })).to.equal(
      'application/cloudevents+json',
    );
    expect(contentTypeFor({ specversion: '1.0', type: 'Microsoft.ContainerRegistry.ImagePushed' })).to.equal(
      'application/json',
    );
    expect(contentTypeFor({ events: [] })).to.equal('application/vnd.docker.distribution.events.v1+json');
  });

  it('posts each file as the registry would and fails when one is not answered 2xx', async () => {
    const dir = tempDir();
    const harbor = path.join(dir, 'harbor-ce.json');
    const dist = path.join(dir, 'dist.json');
    const broken = path.join(dir, 'broken.json');
    writeFileSync(harbor, JSON.stringify({ specversion: '1.0', type: 'harbor.artifact.pushed', id: '1' }));
    writeFileSync(dist, JSON.stringify({ events: [{ id: 'd' }] }));
    writeFileSync(broken, '{"not": json');

    const gateway = nock('http://gateway.test', { reqheaders: { authorization: 'Bearer t0ken' } })
      .post('/events', (body) => body.type === 'harbor.artifact.pushed')
      .matchHeader('content-type', 'application/cloudevents+json')
      .reply(202, { status: 'accepted' })
      .post('/events', (body) => Array.isArray(body.events))
      .matchHeader('content-type', 'application/vnd.docker.distribution.events.v1+json')
      .reply(400, { status: 'rejected', errors: ['events[0].action is required'] });

    const { lines, out } = recorder();
    const code = await sendCommand('http://gateway.test/events', 't0ken', [harbor, dist, broken], out);
    expect(gateway.isDone()).to.equal(true);
    expect(code).to.equal(1);
    expect(lines.info).to.deep.equal([`${harbor}: 202 {"status":"accepted"}`]);
    expect(lines.error[0]).to.equal(`${dist}: 400 {"status":"rejected","errors":["events[0].action is required"]}`);
    expect(lines.error[1]).to.match(/broken\.json: cannot read a JSON body/);
    expect([...lines.info, ...lines.error].join('\n')).not.to.include('t0ken');
  });
});
