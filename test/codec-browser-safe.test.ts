// `ringsocket/codec` must load in a browser as it is: nothing reachable from src/codec/index.ts may
// import a Node module (node:fs, or fs under its bare name), import a package (a page would need
// an import map entry for it), or use a Node-only global. test/browser-codec.test.ts then loads
// the installed package in Chromium.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join, relative } from 'node:path';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { root } from './helpers/daemon.ts';
import { importGraph, nodeImports, packageImports, nodeGlobals } from './helpers/import-graph.ts';

const Safe = suite('codec: browser-safe import graph');
const entry = join(root, 'src', 'codec', 'index.ts');
const show = (edges: { from: string; specifier: string }[]) => edges.map((e) => `${relative(root, e.from)} imports ${e.specifier}`).join('\n');

Safe('src/codec/index.ts reaches the core modules and no node: import', () => {
  const g = importGraph(entry);
  const files = g.files.map((f) => relative(root, f));
  for (const f of ['src/codec/index.ts', 'src/core/stream.ts', 'src/core/wasm.ts', 'src/core/codec.ts']) assert.ok(files.includes(f), `${f} is reached`);
  assert.equal(show(nodeImports(g)), '', 'imports of Node modules reachable from the codec');
  assert.equal(show(packageImports(g)), '', 'imports of packages reachable from the codec');
  assert.equal(nodeGlobals(g, root), [], 'Node-only globals used by the codec');
});

Safe('the walker sees what it must refuse: static, re-export, dynamic and bare built-in imports, Node globals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-graph-'));
  try {
    writeFileSync(join(dir, 'a.ts'), "export { x } from './b.ts';\nimport 'node:path';\n");
    writeFileSync(join(dir, 'b.ts'), "export const x = 1;\nexport async function f() { return import('node:fs/promises'); }\nimport os from 'os';\nimport 'some-package';\n" +
      'const b = Buffer.from([1]);\nconst ok = globalThis.process?.version;\nvoid os; void b; void ok;\n');
    const g = importGraph(join(dir, 'a.ts'));
    assert.equal(g.files.map((f) => relative(dir, f)), ['a.ts', 'b.ts']);
    assert.equal(nodeImports(g).map((e) => e.specifier).sort(), ['node:fs/promises', 'node:path', 'os']);
    assert.equal(packageImports(g).map((e) => e.specifier).sort(), ['node:fs/promises', 'node:path', 'os', 'some-package']);
    assert.equal(nodeGlobals(g, dir), ['b.ts:5: Buffer']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Safe.run();
