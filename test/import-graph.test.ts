import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FOLDERS = ['src', 'bench'];
const MAX_LINES = 400;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const files = FOLDERS.flatMap((f) => tsFiles(join(ROOT, f))).sort();
const sources = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const name = (file: string) => relative(ROOT, file);

/**
 * Relative imports of one file, resolved to the .ts files of the graph. TypeScript's own scanner
 * sees `import`, `import type`, `export … from` and `import('…')`, and skips comments and strings.
 */
function importsOf(file: string): string[] {
  return resolveRelative(file, ts.preProcessFile(sources.get(file)!, true, true).importedFiles.map((i) => i.fileName));
}

/** Relative specifiers of `file` as the .ts files of the graph they name. */
function resolveRelative(file: string, specifiers: string[]): string[] {
  const targets = specifiers
    .filter((s) => s.startsWith('.'))
    .flatMap((s) => {
      const base = resolve(dirname(file), s).replace(/\.js$/, '');
      return [`${base}.ts`, join(base, 'index.ts')].filter((c) => sources.has(c)).slice(0, 1);
    });
  return [...new Set(targets)].sort();
}

/**
 * Relative imports of one file that load code at run time: `import type`, an import whose every
 * name is `type`, and `export type … from` are left out; `import('…')` counts.
 */
function valueImportsOf(file: string): string[] {
  const source = ts.createSourceFile(file, sources.get(file)!, ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !typeOnlyImport(node.importClause)) specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0]!)) specifiers.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return resolveRelative(file, specifiers);
}

function typeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false; // import './x.js': run for its effects
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return !clause.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** One cycle per back edge of a depth-first walk, each rotated to start at its least file. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles = new Map<string, string[]>();
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const least = cycle.indexOf([...cycle].sort()[0]!);
        const rotated = [...cycle.slice(least), ...cycle.slice(0, least)];
        cycles.set(rotated.join('\0'), rotated);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return [...cycles.values()];
}

describe('import graph of src/ and bench/', () => {
  it('has no import cycle, type-only imports included', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const cycles = findCycles(graph).map((c) => [...c, c[0]!].map(name).join(' → '));
    expect(cycles, `import cycles:\n  ${cycles.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('has no two folders of src/ loading code from each other, one inside the other or not', () => {
    const folderOf = (file: string) => dirname(name(file));
    const edges = new Map<string, Set<string>>();
    // index.ts, the library's facade, imports every stage and is imported by none.
    for (const file of files.filter((f) => name(f).startsWith('src/') && name(f) !== 'src/index.ts')) {
      for (const target of valueImportsOf(file)) {
        const [from, to] = [folderOf(file), folderOf(target)];
        if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    const mutual = [...edges].flatMap(([a, targets]) => [...targets].filter((b) => a < b && edges.get(b)?.has(a)).map((b) => `${a} ↔ ${b}`));
    expect(mutual, `folders importing each other:\n  ${mutual.join('\n  ')}\n`).to.deep.equal([]);
  });

  it(`has no file longer than ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ file: name(f), lines: sources.get(f)!.split('\n').length - (sources.get(f)!.endsWith('\n') ? 1 : 0) }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file} (${f.lines} lines)`);
    expect(long, `files over ${MAX_LINES} lines:\n  ${long.join('\n  ')}\n`).to.deep.equal([]);
  });
});
