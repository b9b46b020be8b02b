/**
 * The Dockerfile, read statically (no Docker engine needed): it must build what package.json
 * says the CLI is, run it as the non-root user the chart expects, on the config path the chart
 * mounts and the port the gateway listens on by default, on the very Node release the tests
 * run on (the Makefile fetches that release into .tools and runs every recipe with it).
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/gateway';
import { gatewayContainer, render } from '../charts/helm';
import { chartValues, readJson, readText, repoPath, type Tree } from './support';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The stages, each a FROM and what follows it. */
function stages(list: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const instruction of list) {
    if (instruction.keyword === 'FROM') out.push([]);
    out[out.length - 1].push(instruction);
  }
  return out;
}

function only(stage: Instruction[], keyword: string): Instruction {
  const found = stage.filter((i) => i.keyword === keyword);
  expect(found, keyword).to.have.length(1);
  return found[0];
}

function execForm(instruction: Instruction): string[] {
  const value = JSON.parse(instruction.args) as unknown;
  expect(value, `${instruction.keyword} must use the exec (JSON) form`).to.be.an('array');
  return value as string[];
}

/** `NODE_VERSION := x.y.z` in the Makefile: the Node release `make` installs into .tools. */
function makefileNodeVersion(): string {
  const version = /^NODE_VERSION := (\S+)$/m.exec(readText(repoPath('Makefile')))?.[1];
  expect(version, 'NODE_VERSION in the Makefile').to.match(/^\d+\.\d+\.\d+$/);
  return version!;
}

describe('Dockerfile', () => {
  const all = instructions(readText(repoPath('Dockerfile')));
  const [build, runtime] = stages(all);
  const pkg = readJson<{
    bin: Record<string, string>;
    engines: { node: string };
    devDependencies: Record<string, string>;
  }>(repoPath('package.json'));
  const nodeVersion = makefileNodeVersion();

  it('has a build stage and a runtime stage, both on the exact Node release the Makefile installs', () => {
    expect(stages(all)).to.have.length(2);
    expect(build[0].args).to.equal(`node:${nodeVersion}-bookworm-slim AS build`);
    expect(runtime[0].args).to.equal(`node:${nodeVersion}-bookworm-slim`);
  });

  it('is the Node these tests run on, so the suite tests the runtime that ships', () => {
    // `make test` puts .tools/node-<version>-linux-<arch>/bin first on PATH; a suite started
    // with another node (an older system one) fails here rather than passing on the wrong runtime.
    expect(process.version).to.equal(`v${nodeVersion}`);
  });

  it('declares that release line in engines and types the code against it', () => {
    expect(pkg.engines.node).to.equal(`^${nodeVersion}`);
    const major = nodeVersion.split('.')[0];
    expect(pkg.devDependencies['@types/node']).to.match(new RegExp(`^\\^${major}\\.`));
  });

  it('builds with the toolchain better-sqlite3 may need, then drops dev dependencies', () => {
    const runs = build.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const script = runs.join(' && ');
    const installed = (script.match(/apt-get install ([^&]*)/)?.[1] ?? '').split(/\s+/);
    expect(installed).to.include.members(['python3', 'make', 'g++']);
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((step) => script.indexOf(step));
    expect(
      order.every((at) => at >= 0),
      script,
    ).to.equal(true);
    expect(order).to.deep.equal([...order].sort((a, b) => a - b));
  });

  it('copies into the build only files that exist and the build needs', () => {
    for (const copy of build.filter((i) => i.keyword === 'COPY')) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(existsSync(repoPath(source)), source).to.equal(true);
    }
    const tsconfig = readJson<{ compilerOptions: { rootDir: string; outDir: string } }>(
      repoPath('tsconfig.build.json'),
    );
    expect(tsconfig.compilerOptions).to.include({ rootDir: 'src', outDir: 'dist' });
  });

  it('ships dist, production node_modules and package.json from the build stage', () => {
    const copies = runtime.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    for (const what of ['package.json', 'node_modules', 'dist']) {
      expect(
        copies.some((c) => c.startsWith(`--from=build /app/${what} `)),
        what,
      ).to.equal(true);
    }
  });

  it('runs the CLI package.json names, compiled from src/', () => {
    const entrypoint = execForm(only(runtime, 'ENTRYPOINT'));
    const workdir = only(runtime, 'WORKDIR').args;
    const bin = pkg.bin['registry-gateway'];
    expect(entrypoint).to.deep.equal(['node', path.posix.join(workdir, bin)]);
    // dist/cli.js is what tsc makes of src/cli.ts with rootDir src and outDir dist.
    expect(existsSync(repoPath(bin.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')))).to.equal(true);
  });

  it('puts the CLI on PATH under its package.json name, for kubectl exec', () => {
    const runs = runtime.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const workdir = only(runtime, 'WORKDIR').args;
    const [name, bin] = Object.entries(pkg.bin)[0];
    expect(runs).to.include(`ln -s ${path.posix.join(workdir, bin)} /usr/local/bin/${name}`);
    expect(
      build
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join(' '),
    ).to.include(`chmod +x ${bin}`);
    expect(readText(repoPath('src', 'cli.ts')).startsWith('#!/usr/bin/env node\n')).to.equal(true);
  });

  it('serves the config file the chart mounts', () => {
    const cmd = execForm(only(runtime, 'CMD'));
    const args = gatewayContainer(render({ set: ['tokens.ci=dockerfile-token-5a6b7c8d'] })).args;
    expect(cmd).to.deep.equal(args);
    expect(cmd.slice(0, 2)).to.deep.equal(['serve', '--config']);
  });

  it('runs as a numeric non-root user that owns the store directory', () => {
    const user = only(runtime, 'USER').args;
    const [uid] = user.split(':');
    expect(uid).to.match(/^\d+$/);
    expect(Number(uid)).to.be.greaterThan(0);
    const store = (chartValues().delivery as Tree).dir as string;
    expect(
      runtime
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join(' '),
    ).to.include(`chown ${uid}:${uid} ${store}`);
  });

  it("exposes the gateway's default port, which the chart also uses", () => {
    const exposed = Number(only(runtime, 'EXPOSE').args);
    expect(exposed).to.equal(parseConfig('tokens: {t: dockerfile-token-5a6b7c}').server.port);
    expect(exposed).to.equal((chartValues().server as Tree).port);
  });

  it('keeps host node_modules and build output out of the build context', () => {
    const ignored = readText(repoPath('.dockerignore'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).to.include.members(['node_modules', 'dist', '.git', '.tools']);
    for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored, needed).to.not.include(needed);
    }
  });
});
