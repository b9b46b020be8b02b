/**
 * The README is a front page and docs/ the reference: the front page stays short, every link
 * between the pages lands on a file and heading that exist, and wherever the registries are
 * named (README, package.json, Chart.yaml, the chart's values and README) they are the ten the
 * provider list in src/providers/index.ts holds.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROVIDERS } from '../../src/providers';
import { REPO_ROOT } from '../helpers/gateway-process';
import { anchorOf, DOCS_DIR, pages, README_PATH } from './markdown';

const readme = readFileSync(README_PATH, 'utf8');
const chartDir = path.join(REPO_ROOT, 'charts', 'registry-gateway');

function headingsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1])));
}

describe('README and docs/', () => {
  it('keeps the README to about 200 lines', () => {
    expect(readme.split('\n').length).to.be.at.most(200);
  });

  it('maps every page under docs/, and the reference the README used to hold is there', () => {
    const mapped = [...readme.matchAll(/\]\(docs\/([a-z-]+\.md)\)/g)].map((m) => m[1]);
    const onDisk = pages()
      .filter((p) => p.file.startsWith('docs/'))
      .map((p) => path.basename(p.file));
    expect(new Set(mapped)).to.deep.equal(new Set(onDisk));
    for (const page of [
      'configuration',
      'registries',
      'targets',
      'delivery-and-ha',
      'console',
      'metrics',
      'benchmark',
      'development',
      'install',
    ]) {
      expect(onDisk, page).to.include(`${page}.md`);
    }
  });

  it('links only to files and headings that exist', () => {
    let links = 0;
    for (const page of pages()) {
      const from = path.join(REPO_ROOT, page.file);
      for (const [, target] of page.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        links++;
        const [file, anchor] = target.split('#');
        const resolved = file ? path.resolve(path.dirname(from), file) : from;
        expect(existsSync(resolved), `${page.file} -> ${target}`).to.equal(true);
        if (anchor) expect([...headingsOf(resolved)], `${page.file} -> ${target}`).to.include(anchor);
      }
    }
    expect(links).to.be.greaterThan(20);
  });

  it('can tell a link to a heading that is not there (the check itself)', () => {
    expect([...headingsOf(path.join(DOCS_DIR, 'registries.md'))])
      .to.include('status-codes')
      .and.not.include('status-code');
  });

  it('names every registry of the provider list in the README table, with its path', () => {
    expect(PROVIDERS).to.have.length(10);
    for (const provider of PROVIDERS) {
      expect(readme, provider.name).to.match(
        new RegExp(`^\\| ${provider.title} \\| \`/events/${provider.name}[\`/]`, 'm'),
      );
    }
  });

  it('names the same registries in package.json, Chart.yaml and the chart README', () => {
    const descriptions = {
      'package.json': (
        JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { description: string }
      ).description,
      'Chart.yaml': (parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { description: string })
        .description,
      'chart README': readFileSync(path.join(chartDir, 'README.md'), 'utf8').split('\n## ')[0].replace(/\s+/g, ' '),
    };
    for (const [where, text] of Object.entries(descriptions)) {
      for (const provider of PROVIDERS) expect(text, `${where}: ${provider.title}`).to.include(provider.title);
    }
  });

  it("lists every provider name wherever the chart's values list them", () => {
    const values = readFileSync(path.join(chartDir, 'values.yaml'), 'utf8');
    const lists = [...values.matchAll(/^#\s+providers: ((?:[a-z]+,?\s*(?:#\s*)?)+)$/gm)].map((m) =>
      m[1].split(/[,\s#]+/).filter(Boolean),
    );
    expect(lists.length).to.be.greaterThan(0);
    const names = PROVIDERS.map((p) => p.name).sort();
    for (const list of lists) expect([...list].sort()).to.deep.equal(names);
  });
});
