// The import graph of a TypeScript (or JavaScript) module: every module reachable from an entry
// through relative imports (static `import`/`export ... from`, and `import('...')` with a literal
// specifier), with every specifier each file uses. For checks that an entry point stays
// browser-safe: no `node:` import, no Node built-in under its bare name, no package a browser
// would need an import map for, and no Node-only global.
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
 * Uses of Node-only globals as bare identifiers (`Buffer.from`, `process.env`, `require(...)`), as
 * "file:line: name". A property access (`globalThis.process?.x`) and a declaration's own name do
 * not count: reaching Node through globalThis with a check is how a shared module stays portable.
 */
export function nodeGlobals(graph: ImportGraph, root: string): string[] {
  const found: string[] = [];
  for (const file of graph.files) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
        const parent = node.parent;
        const isPropertyName = (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
          (ts.isPropertyAssignment(parent) && parent.name === node) || ts.isPropertySignature(parent) ||
          ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isQualifiedName(parent);
        const isDeclared = (ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isFunctionDeclaration(parent)) && parent.name === node;
        if (!isPropertyName && !isDeclared) {
          const { line } = src.getLineAndCharacterOfPosition(node.getStart());
          found.push(`${relative(root, file)}:${line + 1}: ${node.text}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return found;
}
