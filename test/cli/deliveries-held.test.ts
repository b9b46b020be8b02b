import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { deliveriesCommand } from '../../src/cli/deliveries';
import { SqliteStore } from '../../src/delivery/store/sqlite';
import { makeEvent, settings, tempDir } from '../delivery/support';

describe('deliveries list: held parts', () => {
  it('names each part the store holds for a tagged push, and what happens to it after the window', async () => {
    const dir = tempDir();
    try {
      const store = SqliteStore.open(settings(dir.dir), { collapse: { windowSeconds: 10, orphans: 'drop' } });
      const digest = `sha256:${'c'.repeat(64)}`;
      await store.accept([
        { event: makeEvent('part-1', { tag: undefined, digest, kind: 'image' }), emitters: ['log'] },
      ]);
      await store.close();
      const config = path.join(dir.dir, 'values.yaml');
      writeFileSync(
        config,
        `tokens: {ci: held-parts-cli-token-8d2a}\ncollapse: {orphans: drop}\ndelivery: {dir: ${dir.dir}}\n`,
      );
      const out = { info: [] as string[], error: [] as string[] };
      const code = await deliveriesCommand(
        'list',
        config,
        {},
        { info: (l) => out.info.push(l), error: (l) => out.error.push(l) },
      );
      expect(code).to.equal(0);
      expect(out.info, 'no delivery row for a held part').to.have.length(1);
      const held = out.error.filter((l) => l.startsWith('held part'));
      expect(held).to.have.length(1);
      expect(held[0]).to.include(`part-1: myreg.azurecr.io/library/app@${digest} (image)`);
      expect(held[0]).to.match(/until \d{4}-\d\d-\d\dT.*, then dropped$/);
    } finally {
      dir.cleanup();
    }
  });
});
