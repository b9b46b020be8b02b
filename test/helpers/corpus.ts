import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The test corpus lives in the repository (test/corpus): real registry payloads under fixtures/
 * and the receivers' own schemas under schemas/, each listed with its source and licence in the
 * folder's SOURCES.md. A clone with nothing beside it runs every test.
 */
export const CORPUS_DIR = path.resolve(__dirname, '..', 'corpus');

export function corpusPath(...parts: string[]): string {
  return path.join(CORPUS_DIR, ...parts);
}

/** Lists a fixture folder at load time (mocha builds the table before hooks run). */
export function fixtureFiles(folder: string): string[] {
  return readdirSync(corpusPath('fixtures', folder))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function readFixture(folder: string, file: string): { text: string; body: unknown } {
  const text = readFileSync(corpusPath('fixtures', folder, file), 'utf8');
  return { text, body: JSON.parse(text) };
}

export function readSchema(...parts: string[]): Record<string, unknown> {
  return JSON.parse(readFileSync(corpusPath('schemas', ...parts), 'utf8'));
}
