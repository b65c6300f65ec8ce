/**
 * The layer rules (DESIGN "Layers and where they live", docs/architecture.md), checked over the
 * import graph of src/: every `import`, `import type`, `export … from`, `import()` and
 * `import('…').T` specifier, resolved to a file. A failure names each offending edge.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

/** One import: the importing file and what it names (a path under the repo, or a package name). */
interface Edge {
  from: string;
  to: string;
}

interface Rule {
  name: string;
  /** True when the edge breaks the rule. */
  breaks: (e: Edge) => boolean;
}

const under = (dir: string) => (path: string) => path.startsWith(`src/${dir}/`);

/** The files of src/array that src/csi may use: the front door and the set of arrays. */
const FRONT_DOOR = ['src/array/storage-array.ts', 'src/array/registry.ts'];

const RULES: Rule[] = [
  {
    name: 'src/csi never reaches the WSAPI client: it speaks to the arrays through src/array',
    breaks: (e) => under('csi')(e.from) && under('wsapi')(e.to),
  },
  {
    name: 'src/array never imports src/csi (the array layer knows nothing of CSI)',
    breaks: (e) => under('array')(e.from) && under('csi')(e.to),
  },
  {
    name: `src/csi uses src/array only through its front door (${FRONT_DOOR.join(', ')})`,
    breaks: (e) => under('csi')(e.from) && under('array')(e.to) && !FRONT_DOOR.includes(e.to),
  },
  {
    name: 'src/wsapi imports no layer above it',
    breaks: (e) => under('wsapi')(e.from) && (under('array')(e.to) || under('csi')(e.to)),
  },
  {
    name: 'src/host (the node side) imports neither the array nor the WSAPI layers nor src/csi',
    breaks: (e) => under('host')(e.from) && (under('array')(e.to) || under('wsapi')(e.to) || under('csi')(e.to)),
  },
  {
    name: 'only src/csi imports gRPC (STYLE "Layers with their own words")',
    // bench:floor's layer servers measure grpc-js itself, bare, under the driver's stack.
    breaks: (e) =>
      e.to.startsWith('@grpc/') &&
      !under('csi')(e.from) &&
      !under('gen')(e.from) &&
      e.from !== 'src/bench/floor-server.ts',
  },
];

/** Every rule an edge breaks, as "from → to: rule" lines. */
function violations(edges: readonly Edge[], rules: readonly Rule[] = RULES): string[] {
  return edges.flatMap((e) => rules.filter((r) => r.breaks(e)).map((r) => `${e.from} → ${e.to}: ${r.name}`));
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** The module specifiers a source text names, of every import form. */
function specifiers(text: string, fileName = 'probe.ts'): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (
      (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) &&
      n.moduleSpecifier &&
      ts.isStringLiteral(n.moduleSpecifier)
    )
      out.push(n.moduleSpecifier.text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal))
      out.push(n.argument.literal.text);
    else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] &&
      ts.isStringLiteral(n.arguments[0])
    )
      out.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The import graph of src/: relative specifiers resolved to repo paths (`.js` → `.ts`), packages by name. */
function importGraph(): Edge[] {
  return files(SRC).flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'), file).map((spec) => ({
      from: relative(ROOT, file),
      to: spec.startsWith('.')
        ? relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, '.ts')
        : spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
    })),
  );
}

describe('architecture: import rules', () => {
  it('src/ has no import that breaks a layer rule', () => {
    const edges = importGraph();
    // The walk found the graph (a broken walk would pass vacuously).
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => e.from === 'src/csi/controller-volumes.ts' && e.to === 'src/array/storage-array.ts')).toBe(
      true,
    );
    expect(violations(edges)).toEqual([]);
  });

  it('names each offending edge (the checker can fail)', () => {
    const bad: Edge[] = [
      { from: 'src/csi/controller-snapshots.ts', to: 'src/wsapi/types.ts' },
      { from: 'src/array/hosts.ts', to: 'src/csi/nodeid.ts' },
      { from: 'src/csi/controller-volumes.ts', to: 'src/array/volumes.ts' },
      { from: 'src/array/volumes.ts', to: 'src/wsapi/types.ts' },
      { from: 'src/csi/controller.ts', to: 'src/array/registry.ts' },
    ];
    expect(violations(bad)).toEqual([
      `src/csi/controller-snapshots.ts → src/wsapi/types.ts: ${RULES[0]!.name}`,
      `src/array/hosts.ts → src/csi/nodeid.ts: ${RULES[1]!.name}`,
      `src/csi/controller-volumes.ts → src/array/volumes.ts: ${RULES[2]!.name}`,
    ]);
  });

  it('reads every import form, type-only ones included', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B } from './b.js';",
      "export { C } from './c.js';",
      "export type * from './d.js';",
      "type E = import('./e.js').E;",
      "const f = import('./f.js');",
    ].join('\n');
    expect(specifiers(text)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js']);
  });
});
