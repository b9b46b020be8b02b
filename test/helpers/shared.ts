import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The shared corpus (real payloads, receivers' schemas) is read in place from ../shared, never
 * copied into the repo. Locally a missing corpus skips; in CI it fails, so a broken checkout can
 * never pass by testing nothing.
 */
export const SHARED_DIR = process.env.SHARED_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared');

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED_DIR, ...parts);
}

export function requireShared(ctx: Mocha.Context, ...parts: string[]): string {
  const p = sharedPath(...parts);
  if (!existsSync(p)) {
    if (process.env.CI) throw new Error(`shared corpus missing in CI: ${p}`);
    ctx.skip();
  }
  return p;
}

/** Lists a fixture folder at load time (mocha builds the table before hooks run). */
export function fixtureFiles(folder: string): string[] {
  const dir = sharedPath('fixtures', folder);
  if (!existsSync(dir)) {
    if (process.env.CI) throw new Error(`shared fixtures missing in CI: ${dir}`);
    return [];
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function readFixture(folder: string, file: string): { text: string; body: unknown } {
  const text = readFileSync(sharedPath('fixtures', folder, file), 'utf8');
  return { text, body: JSON.parse(text) };
}

export function readSchema(...parts: string[]): Record<string, unknown> {
  return JSON.parse(readFileSync(sharedPath('schemas', ...parts), 'utf8'));
}
