/**
 * Turns the figures `make chaos` collected (one JSON line per fault scenario) into the table in
 * docs/reliability.md, between its figures markers; the prose around it is kept as written.
 *
 *   tsx scripts/reliability-report.ts bench/results/chaos.jsonl docs/reliability.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Figures } from '../test/helpers/chaos';

const START = '<!-- figures:start -->';
const END = '<!-- figures:end -->';

function table(rows: Figures[], phaseSeconds: string): string {
  const header = [
    '| scenario | load | acked (2xx) | delivered | lost | duplicates (bound) | 503 + Retry-After | no answer | slowest answer | recovered in |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.sent} requests in ${r.seconds} s (${r.rate}/s) | ${r.acked} | ${r.delivered} | ` +
      `**${r.lost}** | ${r.duplicates} (${r.duplicateBound}) | ${r.unavailable} | ${r.noAnswer} | ` +
      `${r.slowestAnswerSeconds} s | ${r.recoverSeconds} s |`,
  );
  const when = new Date().toISOString().slice(0, 10);
  const machine = `${os.cpus().length} cores, Node ${process.version}`;
  return [
    `Measured ${when} by \`make chaos\` (each fault phase ${phaseSeconds} s; ${machine}).`,
    '',
    ...header,
    ...lines,
  ].join('\n');
}

function main(): void {
  const [resultsFile, docFile] = process.argv.slice(2);
  if (!resultsFile || !docFile) throw new Error('usage: reliability-report.ts <results.jsonl> <doc.md>');
  const rows = readFileSync(resultsFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Figures);
  if (rows.length === 0) throw new Error(`${resultsFile} holds no figures: did the scenarios run?`);
  const lost = rows.filter((r) => r.lost > 0);
  if (lost.length > 0) throw new Error(`events lost in: ${lost.map((r) => r.scenario).join(', ')}`);
  const doc = readFileSync(docFile, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${docFile} has no ${START} ... ${END} section`);
  const body = table(rows, process.env.CHAOS_SECONDS ?? '?');
  writeFileSync(docFile, `${doc.slice(0, start + START.length)}\n${body}\n${doc.slice(end)}`);
  console.log(`${rows.length} scenarios written to ${docFile}`);
}

main();
