/**
 * The Markdown a newcomer reads: the README and every page under docs/, and the fenced code
 * blocks in them, so tests can run what the pages tell people to run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/gateway-process';

export const DOCS_DIR = path.join(REPO_ROOT, 'docs');
export const README_PATH = path.join(REPO_ROOT, 'README.md');

/** README.md and docs/*.md, relative to the repository, with their text. */
export function pages(): { file: string; text: string }[] {
  const docs = readdirSync(DOCS_DIR)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => path.join(DOCS_DIR, f));
  return [README_PATH, ...docs].map((file) => ({
    file: path.relative(REPO_ROOT, file),
    text: readFileSync(file, 'utf8'),
  }));
}

export interface CodeBlock {
  file: string;
  text: string;
}

/** Every fenced block of one language (`yaml`, `sh`...) in the given pages (all by default). */
export function codeBlocks(language: string, from = pages()): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  for (const page of from) {
    for (let m = fence.exec(page.text); m; m = fence.exec(page.text)) blocks.push({ file: page.file, text: m[1] });
  }
  return blocks;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}
