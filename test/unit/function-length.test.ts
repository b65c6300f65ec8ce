/**
 * The longest function in src/ stays under 80 lines (issue #15): a newcomer reads any function on one
 * screen. The demo's step list (runDemo) is the one exception: it is a script, read top to bottom.
 * Generated code (src/gen) is not ours. A function here is any function-like node with a body: a
 * declaration, a method, an arrow or a function expression, measured from its first to its last line.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_LINES = 79;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXCEPTIONS = new Set(['src/demo/demo.ts runDemo']);

interface Measured {
  where: string;
  name: string;
  lines: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return path.endsWith(join('src', 'gen')) ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function nameOf(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText();
  return '<anonymous>';
}

export function measureFunctions(file: string, text: string): Measured[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Measured[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ where: `${file}:${first + 1}`, name: nameOf(node), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('function length', () => {
  it('measures a long function as long (the check can fail)', () => {
    const body = Array.from({ length: 90 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const [fn] = measureFunctions('probe.ts', `function long(): void {\n${body}\n}\n`);
    expect(fn).toMatchObject({ name: 'long', lines: 92 });
  });

  it(`every function in src/ is at most ${MAX_LINES} lines`, () => {
    const offenders = sourceFiles(join(ROOT, 'src'))
      .flatMap((path) => measureFunctions(relative(ROOT, path), readFileSync(path, 'utf8')))
      .filter((f) => f.lines > MAX_LINES && !EXCEPTIONS.has(`${f.where.split(':')[0]} ${f.name}`))
      .map((f) => `${f.where} ${f.name}: ${f.lines} lines`);
    expect(offenders).toEqual([]);
  });
});
