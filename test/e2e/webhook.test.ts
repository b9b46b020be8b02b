import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';
import { post } from '../helpers/http';
import { GatewayProcess, REPO_ROOT, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';

const DOCS_PAGE = path.join(REPO_ROOT, 'docs', 'targets', 'webhook.md');

type Tree = Record<string, any>;

/** The configuration the docs page shows, as a user would copy it. */
function docsConfig(): Tree {
  const page = readFileSync(DOCS_PAGE, 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(page);
  if (!block) throw new Error(`${DOCS_PAGE} shows no yaml configuration`);
  return parse(block[1]) as Tree;
}

/**
 * The docs page's configuration through a real gateway process: only the addresses (its port,
 * its store, the receivers' URLs) and the secrets' whereabouts change; every other key is the
 * page's own. Each receiver checks every request with the `standardwebhooks` reference library.
 */
describe('e2e: the webhook target as docs/targets/webhook.md configures it', function () {
  this.timeout(90_000);
  const tektonSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const argoSecret = `whsec_${randomBytes(24).toString('base64')}`;
  let tekton: FakeWebhookReceiver;
  let argo: FakeWebhookReceiver;
  let gw: GatewayProcess | undefined;

  afterEach(async () => {
    await gw?.kill9();
    await Promise.all([tekton?.close(), argo?.close()]);
  });

  it('delivers a push to both endpoints, signed, with the same webhook-id on the retry', async () => {
    tekton = await FakeWebhookReceiver.start(tektonSecret);
    argo = await FakeWebhookReceiver.start(argoSecret);
    // The Tekton side is restarting at first: the gateway must try again with the same id.
    tekton.answer({ status: 503, body: 'listener starting' });

    const dir = tempDir();
    const config = docsConfig();
    const [tektonEndpoint, argoEndpoint] = config.emitters.webhook.endpoints as Tree[];
    expect(tektonEndpoint.secretFrom).to.deep.equal({ env: 'WEBHOOK_SECRET_TEKTON' });
    expect(argoEndpoint.secretFrom).to.have.property('file');
    tektonEndpoint.url = tekton.url;
    argoEndpoint.url = `${argo.url}/registry`;
    argoEndpoint.secretFrom = { file: path.join(dir, 'argo-secret') };
    writeFileSync(argoEndpoint.secretFrom.file, argoSecret);
    config.server = { port: '$PORT' };
    config.delivery = { dir: '$DIR', initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2 };

    gw = await GatewayProcess.start(stringify(config), { dir, env: { WEBHOOK_SECRET_TEKTON: tektonSecret } });
    const body = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'payloads', 'acr-push.json'), 'utf8'));
    const accepted = await post(`${gw.url}/events`, body, {
      Authorization: `Bearer ${config.tokens['acr-prod'].value}`,
    });
    expect(accepted.status, JSON.stringify(accepted.data)).to.equal(202);
    const eventId = accepted.data.events[0].id as string;

    await waitFor('both endpoints to take the event', () => tekton.received.length >= 2 && argo.received.length >= 1);

    expect(tekton.received).to.have.length(2);
    for (const request of tekton.received) {
      expect(request.verified, JSON.stringify(request.verified)).to.deep.include({ ok: true });
      expect(request.headers['webhook-id']).to.equal(eventId);
      expect(request.headers['x-registry-gateway-cluster']).to.equal('prod-eu1');
    }
    expect(JSON.parse(tekton.received[1].body)).to.deep.include({ id: eventId, type: 'push', repo: 'team/web' });

    const [cloudEvent] = argo.received;
    expect(cloudEvent.verified, JSON.stringify(cloudEvent.verified)).to.deep.include({ ok: true });
    expect(cloudEvent.headers['webhook-id']).to.equal(eventId);
    expect(cloudEvent.headers['content-type']).to.match(/^application\/cloudevents\+json/);
    expect(JSON.parse(cloudEvent.body)).to.deep.include({ specversion: '1.0', id: eventId, repo: 'team/web' });

    // Each endpoint is its own target: its own delivery row, the retry counted on the Tekton one.
    const metrics = await waitFor('both deliveries counted', async () => {
      const text = (await axios.get<string>(`${gw!.url}/metrics`, { responseType: 'text' })).data;
      return text.includes('emitter="webhook/argo",outcome="succeeded"} 1') &&
        text.includes('emitter="webhook/tekton",outcome="succeeded"} 1')
        ? text
        : undefined;
    });
    expect(metrics).to.include('emitter="webhook/tekton",outcome="retried"} 1');
    expect(gw.stderr).not.to.include(tektonSecret.slice(6)).and.not.to.include(argoSecret.slice(6));
  });
});
