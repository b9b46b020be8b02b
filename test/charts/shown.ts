/** The install steps a page shows, as a reader would copy them: its values file and its commands. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codeBlocks } from '../docs/markdown';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'rg-shown-'));

/** The values file a page shows (`# my-values.yaml`), written out as the reader would save it. */
export function shownValues(page = 'README.md'): string {
  const block = codeBlocks('yaml').find((b) => b.file === page && b.text.startsWith('# my-values.yaml'));
  if (!block) throw new Error(`${page} has no my-values.yaml block`);
  const file = path.join(scratch, `${path.basename(page, '.md')}-my-values.yaml`);
  writeFileSync(file, block.text);
  return file;
}

/** A page's shell steps around `helm install`, one command a line (continuations joined). */
export function shownCommands(page = 'README.md'): string[] {
  const block = codeBlocks('sh').find((b) => b.file === page && b.text.includes('helm install'));
  if (!block) throw new Error(`${page} has no Helm install block`);
  return block.text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

