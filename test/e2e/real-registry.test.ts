import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import axios from 'axios';
import { DistributionRegistry, requireRegistryTools } from '../helpers/distribution-registry';
import { GatewayProcess, tempDir } from '../helpers/gateway-process';
import { waitFor } from '../helpers/wait';
import { writeOciImage } from '../helpers/oci-image';

const TOKEN = 'registry-notify-token-9c2e';

/**
 * The suite's proof against a sender nobody here wrote: Debian's CNCF Distribution registry
 * (2.8) with a notifications endpoint pointing at the gateway, and skopeo pushing an image.
 * `make test` installs both; CI fails rather than skips when they are missing.
 */
describe('e2e: a real CNCF Distribution registry sends notifications', function () {
  this.timeout(120_000);
  let registry: DistributionRegistry | undefined;
  let gateway: GatewayProcess | undefined;

  before(function () {
    requireRegistryTools(this);
  });

  after(async () => {
    registry?.kill();
    await gateway?.kill9();
  });

  it('emits exactly one push for the tagged manifest, with registry, repo and tag', async () => {
    const dir = tempDir('rg-registry-');
    gateway = await GatewayProcess.start(`
tokens:
  registry:
    value: ${TOKEN}
    providers: [distribution]
emitters: {log: {enabled: true}}
delivery: {dir: $DIR}
server: {port: $PORT}
`);

    registry = await DistributionRegistry.start({ dir, notifyUrl: `${gateway.url}/events`, token: TOKEN });
    const registryHost = registry.host;

    const image = path.join(dir, 'image');
    writeOciImage(image, 'v1', dir);
    const copy = spawnSync(
      'skopeo',
      ['copy', '--dest-tls-verify=false', `oci:${image}:v1`, `docker://${registryHost}/team/app:v1`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(copy.status, `skopeo: ${copy.stderr}`).to.equal(0);
    // skopeo may recompress the layer on the way, so the registry is asked what it stored.
    const head = await axios.head(`http://${registryHost}/v2/team/app/manifests/v1`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const manifestDigest = head.headers['docker-content-digest'] as string;
    expect(manifestDigest).to.match(/^sha256:[0-9a-f]{64}$/);

    const pushes = () => gateway!.events().filter((e) => e.type === 'push');
    await waitFor('the push event at the log emitter', () => pushes().length >= 1, 30_000).catch((err) => {
      throw new Error(`${err.message}\ngateway:\n${gateway!.stderr.slice(-4000)}\nregistry:\n${registry!.tail()}`);
    });
    // The registry sends each blob upload as its own notification; give those time to arrive
    // too, so "exactly one" is checked after the whole push has been reported.
    await waitFor(
      'the blob notifications (answered 200 ignored)',
      () => (gateway!.stderr.match(/"msg":"ignored"/g) ?? []).length >= 2,
      15_000,
    );

    expect(pushes()).to.have.length(1);
    expect(pushes()[0]).to.include({
      provider: 'distribution',
      source: 'brigade.sh/distribution',
      registry: registryHost,
      repo: 'team/app',
      tag: 'v1',
      digest: manifestDigest,
    });
    expect(gateway.stderr).not.to.include(TOKEN);
  });
});
