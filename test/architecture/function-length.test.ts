import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '..', '..', 'src');
const MAX_FUNCTION_LINES = 60;

/** Where the rule "no function over 60 lines" is enforced: the delivery pipeline and the HTTP edge. */
const FOLDERS = ['delivery', 'delivery/store', 'server', 'runtime'];

/** Every function, method, accessor and arrow with a body, and how many lines it spans. */
function functionLengths(file: string): { name: string; line: number; lines: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { name: string; line: number; lines: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = 'name' in node && node.name ? (node.name as ts.Node).getText(source) : '(anonymous)';
      found.push({ name, line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('architecture: function length', () => {
  for (const folder of FOLDERS) {
    it(`no function in src/${folder} spans more than ${MAX_FUNCTION_LINES} lines`, () => {
      const dir = path.join(SRC, folder);
      const files = readdirSync(dir).filter((name) => name.endsWith('.ts'));
      expect(files).to.not.be.empty;
      const long = files.flatMap((name) =>
        functionLengths(path.join(dir, name))
          .filter((f) => f.lines > MAX_FUNCTION_LINES)
          .map((f) => `src/${folder}/${name}:${f.line} ${f.name} (${f.lines} lines)`),
      );
      expect(long).to.deep.equal([]);
    });
  }
});
