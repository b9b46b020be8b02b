import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');

/**
 * The parts of src/ from the top down (docs/development.md, "How the code follows the flow"): a part may import the parts
 * below it, never one above. Top-level files are parts of their own.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['cli.ts'],
  ['cli'],
  ['gateway.ts'],
  ['runtime'],
  ['server', 'console'],
  ['delivery'],
  ['providers'],
  ['emitters'],
  ['auth'],
  ['config'],
  ['model', 'observability'],
];

const MAX_LINES = 300;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** The part a file belongs to: its top folder under src/, or its own name at the top. */
function partOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0];
}

/** Relative imports (static, `import type` and `export ... from` included), resolved to files. */
function importedFiles(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((specifier) => {
    const target = path.resolve(path.dirname(file), specifier);
    for (const candidate of [`${target}.ts`, path.join(target, 'index.ts')]) {
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not this form; try the next
      }
    }
    throw new Error(`${path.relative(SRC, file)}: cannot resolve ${specifier}`);
  });
}

/** part -> the other parts it imports, with one example import each for the message. */
function partGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = partOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const target of importedFiles(file)) {
      const to = partOf(target);
      if (to !== from && !edges.has(to)) {
        edges.set(to, `${path.relative(SRC, file)} imports ${path.relative(SRC, target)}`);
      }
    }
  }
  return graph;
}

/** Every cycle's parts, found by walking the graph depth first. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (node: string, trail: string[]) => {
    const at = trail.indexOf(node);
    if (at >= 0) {
      found.push([...trail.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node)?.keys() ?? []) walk(next, [...trail, node]);
    done.add(node);
  };
  for (const node of graph.keys()) walk(node, []);
  return found;
}

describe('architecture', () => {
  const graph = partGraph();

  it('finds the imports it checks (the scan itself works)', () => {
    expect(graph.get('server')?.has('delivery')).to.equal(true);
    expect(graph.get('gateway.ts')?.has('providers')).to.equal(true);
  });

  it('has no folder of src/ importing a folder that imports it back', () => {
    const described = cycles(graph).map((cycle) =>
      cycle
        .slice(1)
        .map((to, i) => graph.get(cycle[i])?.get(to))
        .join(', '),
    );
    expect(described).to.deep.equal([]);
  });

  it('imports only downwards through the layers', () => {
    const rank = (part: string) => LAYERS.findIndex((layer) => layer.includes(part));
    const upward: string[] = [];
    for (const [from, edges] of graph) {
      expect(rank(from), `${from} is in no layer`).to.be.at.least(0);
      for (const [to, example] of edges) {
        if (rank(to) <= rank(from)) upward.push(`${example} (${to} is not below ${from})`);
      }
    }
    expect(upward).to.deep.equal([]);
  });

  it(`keeps every file of src/ within ${MAX_LINES} lines`, () => {
    const oversized = sourceFiles(SRC)
      .map((file) => ({ name: path.relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ name, lines }) => `${name}: ${lines} lines`);
    expect(oversized).to.deep.equal([]);
  });
});
