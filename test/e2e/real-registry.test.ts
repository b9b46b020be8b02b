import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { freePort, GatewayProcess, tempDir, waitFor } from '../helpers/gateway-process';
import { writeOciImage } from '../helpers/oci-image';

const TOKEN = 'registry-notify-token-9c2e';

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/**
 * The suite's proof against a sender nobody here wrote: Debian's CNCF Distribution registry
 * (2.8) with a notifications endpoint pointing at the gateway, and skopeo pushing an image.
 * `make test` installs both; CI fails rather than skips when they are missing.
 */
describe('e2e: a real CNCF Distribution registry sends notifications', function () {
  this.timeout(120_000);
  let registry: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let registryLog = '';

  before(function () {
    if (!have('docker-registry') || !have('skopeo')) {
      if (process.env.CI) throw new Error('docker-registry and skopeo are required in CI (make system-deps)');
      this.skip();
    }
  });

  after(async () => {
    registry?.kill('SIGKILL');
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

    const registryPort = await freePort();
    const registryHost = `127.0.0.1:${registryPort}`;
    const configPath = path.join(dir, 'config.yml');
    writeFileSync(
      configPath,
      `version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: ${path.join(dir, 'storage')}}
http:
  addr: ${registryHost}
notifications:
  endpoints:
    - name: registry-gateway
      url: ${gateway.url}/events
      headers:
        Authorization: [Bearer ${TOKEN}]
      timeout: 2s
      threshold: 5
      backoff: 1s
`,
    );
    registry = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    registry.stdout!.on('data', (d) => (registryLog += d));
    registry.stderr!.on('data', (d) => (registryLog += d));
    await waitFor(
      async () => (await axios.get(`http://${registryHost}/v2/`, { validateStatus: () => true })).status === 200,
      'the registry',
      20_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${registryLog}`);
    });

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
    await waitFor(() => pushes().length >= 1, 'the push event at the log emitter', 30_000).catch((err) => {
      throw new Error(
        `${err.message}\ngateway:\n${gateway!.stderr.slice(-4000)}\nregistry:\n${registryLog.slice(-4000)}`,
      );
    });
    // The registry sends each blob upload as its own notification; give those time to arrive
    // too, so "exactly one" is checked after the whole push has been reported.
    await waitFor(
      () => (gateway!.stderr.match(/"msg":"ignored"/g) ?? []).length >= 2,
      'the blob notifications (answered 200 ignored)',
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
