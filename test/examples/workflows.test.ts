/**
 * The CI and release workflows, read as GitHub would run them: valid by the workflow schema (the
 * validator `make lint` runs, @action-validator/cli), CI running `make test` on the image's own
 * Node, and a release that tests first, builds both platforms with an SBOM and provenance, signs
 * what it pushed by digest, publishes image and chart where the chart pulls from, and drafts
 * release notes.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { tempDir } from '../helpers/gateway-process';
import { chartValues, readText, repoPath, type Tree } from './support';

const WORKFLOWS_DIR = repoPath('.github', 'workflows');
const VALIDATOR = repoPath('node_modules', '@action-validator', 'cli', 'cli.mjs');

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

interface Job {
  needs?: string | string[];
  uses?: string;
  container?: { image: string };
  permissions?: Record<string, string>;
  steps?: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

function workflow(name: string): Workflow {
  return parse(readText(path.join(WORKFLOWS_DIR, name))) as Workflow;
}

function validate(file: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [VALIDATOR, file], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

function step(job: Job, predicate: (s: Step) => boolean, what: string): Step {
  const found = (job.steps ?? []).find(predicate);
  expect(found, what).to.not.equal(undefined);
  return found!;
}

const nodeVersion = /^NODE_VERSION := (\S+)$/m.exec(readText(repoPath('Makefile')))![1];

describe('GitHub workflows', () => {
  const files = readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f));

  it('are valid workflows by the validator make lint runs, which refuses a broken one', () => {
    expect(files).to.include.members(['ci.yml', 'release.yml']);
    for (const file of files) {
      const result = validate(path.join(WORKFLOWS_DIR, file));
      expect(result.status, `${file}: ${result.output}`).to.equal(0);
    }
    const broken = path.join(tempDir(), 'broken.yml');
    writeFileSync(broken, readText(path.join(WORKFLOWS_DIR, 'ci.yml')).replace('runs-on:', 'run-on:'));
    expect(validate(broken).status).to.equal(1);
    const scripts = (JSON.parse(readText(repoPath('package.json'))) as { scripts: Record<string, string> }).scripts;
    expect(scripts.lint).to.include('npm run lint:workflows');
    expect(scripts['lint:workflows']).to.include('action-validator "$f"');
  });

  it('pin every action to a commit, with the release it is', () => {
    for (const file of files) {
      const uses = readText(path.join(WORKFLOWS_DIR, file))
        .split('\n')
        .filter((line) => /^\s*-?\s*uses:\s*[\w-]+\/[\w-]+@/.test(line));
      for (const line of uses) expect(line, file).to.match(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it('CI runs make test, as .ci/run does, in Debian on the Node release the image ships', () => {
    const ci = workflow('ci.yml');
    expect(ci.on).to.have.all.keys('push', 'pull_request', 'workflow_call');
    expect(ci.permissions).to.deep.equal({ contents: 'read' });
    const jobs = Object.values(ci.jobs);
    expect(jobs).to.have.length(1);
    expect(jobs[0].container?.image).to.equal(`node:${nodeVersion}-bookworm`);
    expect(jobs[0].steps!.map((s) => s.run).filter(Boolean)).to.deep.equal(['make test']);
    expect(readText(repoPath('.ci', 'run'))).to.match(/^make test$/m);
  });

  describe('release', () => {
    const release = workflow('release.yml');
    const { image, chart, notes, test } = release.jobs;

    it('runs on a version tag, after the whole CI job', () => {
      expect(release.on).to.deep.equal({ push: { tags: ['v[0-9]+.[0-9]+.[0-9]+'] } });
      expect(test.uses).to.equal('./.github/workflows/ci.yml');
      expect(image.needs).to.equal('test');
      expect(chart.needs).to.equal('image');
      expect(notes.needs).to.deep.equal(['image', 'chart']);
      expect(release.permissions).to.deep.equal({ contents: 'read' });
    });

    it('builds linux/amd64 and linux/arm64 from the Dockerfile with an SBOM and provenance, and pushes', () => {
      const build = step(image, (s) => s.uses?.startsWith('docker/build-push-action@') ?? false, 'build-push');
      expect(build.id).to.equal('build');
      expect(String(build.with!.platforms).split(',')).to.deep.equal(['linux/amd64', 'linux/arm64']);
      expect(build.with).to.include({ file: 'Dockerfile', push: true, sbom: true, provenance: 'mode=max' });
      expect((image.steps ?? []).some((s) => s.uses?.startsWith('docker/setup-qemu-action@'))).to.equal(true);
    });

    it('signs the image and the chart keylessly, by the digest it pushed', () => {
      for (const [job, subject] of [
        [image, 'IMAGE'],
        [chart, 'CHART'],
      ] as const) {
        expect(job.permissions).to.include({ 'id-token': 'write', packages: 'write' });
        expect((job.steps ?? []).some((s) => s.uses?.startsWith('sigstore/cosign-installer@'))).to.equal(true);
        const sign = step(job, (s) => s.run?.startsWith('cosign sign') ?? false, 'cosign sign');
        expect(sign.run).to.equal(`cosign sign --yes "\${${subject}}@\${DIGEST}"`);
        expect(sign.run).to.not.match(/--key\b/);
      }
      expect(step(image, (s) => s.run?.startsWith('cosign') ?? false, 'sign').env!.DIGEST).to.equal(
        '${{ steps.build.outputs.digest }}',
      );
      expect(step(chart, (s) => s.run?.startsWith('cosign') ?? false, 'sign').env!.DIGEST).to.equal(
        '${{ steps.push.outputs.digest }}',
      );
    });

    it("publishes the image where the chart's default image.repository points, and the chart to GHCR as OCI", () => {
      const names = step(image, (s) => s.id === 'names', 'names').run!;
      expect(names).to.include('image="ghcr.io/${owner}/registry-gateway"');
      // The chart's home names the owner the release runs under.
      const home = /^home: https:\/\/github\.com\/([^/\s]+)\/[^/\s]+$/m.exec(
        readText(repoPath('charts', 'registry-gateway', 'Chart.yaml')),
      );
      expect(home, 'Chart.yaml home').to.not.equal(null);
      const repository = (chartValues().image as Tree).repository;
      expect(repository).to.equal(`ghcr.io/${home![1].toLowerCase()}/registry-gateway`);
      // The release's own guard reads the chart with this sed: it must find that same value.
      const extract = /charted="\$\((sed [^)]*)\)"/.exec(names)?.[1];
      expect(extract, 'the chart check in the names step').to.be.a('string');
      const read = spawnSync('bash', ['-c', extract!], { cwd: repoPath(), encoding: 'utf8' });
      expect(read.stdout.trim()).to.equal(repository);

      const push = step(chart, (s) => s.id === 'push', 'chart push').run!;
      expect(push).to.include('repository="oci://ghcr.io/${owner}/charts"');
      expect(push).to.match(/helm push "dist-chart\/registry-gateway-\$\{chart_version\}\.tgz" "\$repository"/);
      expect(push).to.include('--app-version "$VERSION"');
    });

    it('drafts release notes naming what it published, for a person to publish', () => {
      const draft = step(notes, (s) => s.run?.includes('gh release create') ?? false, 'gh release create').run!;
      expect(draft).to.match(/gh release create "\$GITHUB_REF_NAME" --draft /);
      expect(draft).to.include('--generate-notes');
      for (const name of ['IMAGE_DIGEST', 'CHART_DIGEST', 'cosign verify']) expect(draft).to.include(name);
      expect(notes.permissions).to.deep.equal({ contents: 'write' });
    });
  });
});
