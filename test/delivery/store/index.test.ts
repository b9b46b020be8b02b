import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { DeliverySettings } from '../../../src/delivery/types';
import { requirePostgres, sharedPostgres } from '../../helpers/postgres';
import { settings, tempDir } from '../support';

const ROOT = path.resolve(__dirname, '../../..');
const DRIVERS = ['pg', 'better-sqlite3'];

/**
 * Opens and closes a store through `openStore` in a process of its own (this one has loaded
 * every driver already) and answers which database drivers that process loaded.
 */
async function driversLoadedBy(settings: DeliverySettings): Promise<string[]> {
  const script = `
    const { openStore } = require(${JSON.stringify(path.join(ROOT, 'src/delivery/store/index.ts'))});
    openStore(${JSON.stringify(settings)}).then(async (store) => {
      await store.close();
      const loaded = Object.keys(require.cache).map((file) => /node_modules\\/([^/]+)\\//.exec(file)?.[1]);
      console.log(JSON.stringify(${JSON.stringify(DRIVERS)}.filter((driver) => loaded.includes(driver))));
    });
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: ROOT });
  return JSON.parse(stdout) as string[];
}

describe('openStore: the engine delivery.store names, and only its driver', function () {
  this.timeout(60_000);

  it('opens SQLite without loading the PostgreSQL driver', async () => {
    const dir = tempDir();
    try {
      expect(await driversLoadedBy(settings(dir.dir))).to.deep.equal(['better-sqlite3']);
    } finally {
      dir.cleanup();
    }
  });

  it('opens PostgreSQL without loading the SQLite addon', async function () {
    requirePostgres(this);
    const url = await (await sharedPostgres()).createDatabase();
    const dir = tempDir();
    try {
      const postgres = { url, poolSize: 2, schema: `open_${process.pid}`, leaseSeconds: 60 };
      expect(await driversLoadedBy(settings(dir.dir, { store: 'postgres', postgres }))).to.deep.equal(['pg']);
    } finally {
      dir.cleanup();
    }
  });
});
