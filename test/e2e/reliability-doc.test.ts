import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../helpers/gateway-process';

/** docs/reliability.md describes and measures exactly the scenarios that exist. */
describe('faults: docs/reliability.md', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'reliability.md'), 'utf8');
  const dir = path.join(REPO_ROOT, 'test', 'e2e', 'faults');
  const scenarios = readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/settle\(\s*'([^']+)'/g)].map((m) => m[1]));

  it('finds the scenarios', () => {
    expect(scenarios).to.have.length.of.at.least(6);
  });

  it('describes each scenario with its duplicate bound', () => {
    for (const name of scenarios) expect(doc, name).to.include(`| ${name} |`);
  });

  it('has a figures row for each scenario, with nothing lost', () => {
    const figures = doc.slice(doc.indexOf('<!-- figures:start -->'), doc.indexOf('<!-- figures:end -->'));
    for (const name of scenarios) {
      const row = figures.split('\n').find((l) => l.startsWith(`| ${name} |`));
      expect(row, `figures for "${name}": run make chaos`).to.be.a('string');
      expect(row!.split('|')[5].trim(), `lost in "${name}"`).to.equal('**0**');
    }
  });
});
