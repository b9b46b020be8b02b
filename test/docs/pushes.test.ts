import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/gateway';

const DOC = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'pushes.md'), 'utf8');

/** docs/pushes.md's YAML is what users copy: each snippet must be a values file the gateway takes. */
describe('docs/pushes.md examples', () => {
  const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

  it('has the snippets it shows, and each validates with a token added', () => {
    expect(blocks.length).to.be.greaterThan(2);
    for (const block of blocks) {
      const config = parseConfig(`tokens: {docs: docs-token-3f2e1d0c9b}\n${block}`, 'docs/pushes.md');
      expect(config.collapse.windowSeconds, block).to.be.a('number');
    }
  });

  it('documents the defaults the schema has', () => {
    const config = parseConfig('tokens: {docs: docs-token-3f2e1d0c9b}\n', 'docs/pushes.md');
    expect(config.collapse).to.deep.include({ windowSeconds: 10, orphans: 'deliver' });
    expect(config.collapse.manifests).to.deep.include({ timeoutMs: 2000, maxBytes: 4194304, registries: [] });
  });
});
