import { expect } from 'chai';
import { BrigadeEmitter } from '../../src/emitters/brigade';
import { encode, toCloudEvent } from '../../src/emitters/cloudevent';
import { KnativeEmitter } from '../../src/emitters/knative';
import { KubeappsEmitter } from '../../src/emitters/kubeapps';
import { withoutUserInfo } from '../../src/emitters/preview';
import { memoryLogger } from '../helpers/logger';
import { distributionPushByDigest as event } from '../helpers/sample-events';

const SECRET = 'target-secret-1a2b3c4d5e6f';

describe('emitter previews', () => {
  it('renders the Brigade event with the API address, and its token hidden', () => {
    const brigade = new BrigadeEmitter(
      { apiAddress: 'https://brigade.example.com/', apiToken: SECRET, apiIgnoreCertWarnings: false, timeoutSeconds: 5 },
      memoryLogger().logger,
    );
    const [request] = brigade.preview(event);
    expect(request).to.include({ method: 'POST', url: 'https://brigade.example.com/v2/events' });
    expect(JSON.parse(request.body!)).to.include({ apiVersion: 'brigade.sh/v2', kind: 'Event', source: event.source });
    expect(JSON.stringify(request)).to.not.include(SECRET);
  });

  it('renders exactly the CloudEvent headers and body sent, without the password in the broker URL', () => {
    const knative = new KnativeEmitter({ brokerURL: `http://gw:${SECRET}@broker.example.com/ns/default` });
    const [request] = knative.preview(event);
    const sent = encode(toCloudEvent(event), 'binary');
    expect(request.headers).to.deep.equal(sent.headers);
    expect(JSON.parse(request.body!)).to.deep.equal(JSON.parse(sent.body));
    expect(request.url).to.equal('http://broker.example.com/ns/default');
    expect(JSON.stringify(request)).to.not.include(SECRET);
  });

  it('renders one Kubeapps refresh per AppRepository, its token hidden', () => {
    const kubeapps = new KubeappsEmitter({
      address: 'https://kubeapps.example.com',
      token: SECRET,
      repositories: [
        { registry: 'localhost:5000', prefix: 'library/', cluster: 'default', namespace: 'kubeapps', name: 'charts' },
      ],
    });
    const requests = kubeapps.preview(event);
    expect(requests.map((r) => [r.method, r.url])).to.deep.equal([
      [
        'POST',
        'https://kubeapps.example.com/api/v1/clusters/default/namespaces/kubeapps/apprepositories/charts/refresh',
      ],
    ]);
    expect(JSON.stringify(requests)).to.not.include(SECRET);
    expect(kubeapps.preview({ ...event, registry: 'elsewhere.example.com' })).to.deep.equal([]);
  });

  it('strips user info from any URL, and leaves others alone', () => {
    expect(withoutUserInfo('https://u:p@h.example.com/x')).to.equal('https://h.example.com/x');
    expect(withoutUserInfo('https://h.example.com/x')).to.equal('https://h.example.com/x');
    expect(withoutUserInfo('not a url //u:p@host')).to.equal('not a url //host');
  });
});
