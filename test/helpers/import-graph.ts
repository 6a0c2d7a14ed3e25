// The import graph of a TypeScript (or JavaScript) module: every module reachable from an entry
// through relative imports (static `import`/`export ... from`, and `import('...')` with a literal
// specifier), with every specifier each file uses. For checks that an entry point stays
// browser-safe: no `node:` import, no Node built-in under its bare name, no package a browser
// would need an import map for, no Node-only global, and (browserSafety with an allow-list)
// no file outside what the entry may load.
import ts from 'typescript';
import { readFileSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve, relative } from 'node:path';

export interface ImportEdge {
  /** The importing file (absolute path). */
  from: string;
  specifier: string;
  /** The file it resolves to, for a relative specifier. */
  to?: string;
}

export interface ImportGraph {
  /** Every reachable file, the entry first (absolute paths). */
  files: string[];
  edges: ImportEdge[];
}

/** Relative specifiers resolve as Node does for this project: the exact path (src/ uses .ts), or .js -> .ts. */
function resolveRelative(from: string, specifier: string): string {
  const p = resolve(dirname(from), specifier);
  if (existsSync(p)) return p;
  const ts2 = p.replace(/\.js$/, '.ts');
  if (existsSync(ts2)) return ts2;
  throw new Error(`${from}: cannot resolve ${JSON.stringify(specifier)}`);
}

export function importGraph(entry: string): ImportGraph {
  const files: string[] = [];
  const edges: ImportEdge[] = [];
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    files.push(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      const specifier = ref.fileName;
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        const to = resolveRelative(file, specifier);
        edges.push({ from: file, specifier, to });
        queue.push(to);
      } else {
        edges.push({ from: file, specifier });
      }
    }
  }
  return { files, edges };
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]]));

/** Edges a browser cannot load: node: specifiers and Node built-ins by their bare names. */
export function nodeImports(graph: ImportGraph): ImportEdge[] {
  return graph.edges.filter((e) => e.specifier.startsWith('node:') || BUILTINS.has(e.specifier) || BUILTINS.has(e.specifier.split('/')[0]));
}

/** Edges to packages (bare specifiers): a browser needs an import map or a bundler for each. */
export function packageImports(graph: ImportGraph): ImportEdge[] {
  return graph.edges.filter((e) => e.to === undefined);
}

const NODE_GLOBALS = new Set(['Buffer', 'require', '__dirname', '__filename', 'process', 'global', 'setImmediate']);

/**
 * `x.process`, `{ process: 1 }`, `interface { process(): void }`, `A.Buffer` in a type: the name of
 * a property, method or qualified member, not the global. Only the name itself: the value or type
 * next to it (`{ p: process }`, `class { p = process }`, `process.env`'s `process`) is still a use.
 */
function isMemberName(node: ts.Identifier): boolean {
  const p = node.parent;
  return ((ts.isPropertyAccessExpression(p) || ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) ||
    ts.isMethodDeclaration(p) || ts.isMethodSignature(p) || ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p)) && p.name === node) ||
    (ts.isQualifiedName(p) && p.right === node);
}

/**
 * Uses of Node-only globals as bare identifiers (`Buffer.from`, `process.env`, `require(...)`,
 * `{ process }`, a type `Buffer`), as "file:line: name". The name of a property, method or
 * qualified member does not count (reaching Node through `globalThis.process?.x` with a check is
 * how a shared module stays portable); a variable, parameter or function of one of these names
 * does (it would hide the global from a reader, and its uses are uses of the name).
 */
export function nodeGlobals(graph: ImportGraph, root: string): string[] {
  const found: string[] = [];
  for (const file of graph.files) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && !isMemberName(node)) {
        const { line } = src.getLineAndCharacterOfPosition(node.getStart());
        found.push(`${relative(root, file)}:${line + 1}: ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return found;
}

/** Reachable files (relative to `root`) that match none of `allowed`. */
export function outsideAllowList(graph: ImportGraph, root: string, allowed: RegExp[]): string[] {
  return graph.files.map((f) => relative(root, f)).filter((rel) => !allowed.some((re) => re.test(rel)));
}

export interface BrowserSafety {
  /** Every reachable file, relative to root, sorted. */
  files: string[];
  /** Everything a browser could not load as it is, one line each; [] when the entry is browser-safe. */
  problems: string[];
}

/**
 * The checks above together, for an entry that must load in a browser as it is: any import of a
 * package or a Node module (every bare specifier), a Node-only global, and, with `allowed`, any
 * reachable file outside the allow-list (paths relative to `root`).
 */
export function browserSafety(entry: string, root: string, allowed?: RegExp[]): BrowserSafety {
  const graph = importGraph(resolve(root, entry));
  const problems = [
    ...packageImports(graph).map((e) => `${relative(root, e.from)} imports "${e.specifier}"`),
    ...(allowed ? outsideAllowList(graph, root, allowed).map((f) => `${f} is outside the allow-list`) : []),
    ...nodeGlobals(graph, root).map((g) => `${g} (a Node-only global)`),
  ];
  return { files: graph.files.map((f) => relative(root, f)).sort(), problems };
}
