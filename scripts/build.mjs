#!/usr/bin/env node
// Compiles the two WebAssembly builds of assembly/ (see asconfig.json):
//   build/ringsocket.shared.wasm  - shared imported memory (threads + SIMD), for the daemon
//   build/ringsocket.private.wasm - private imported memory, for browsers and single-thread use
// With --if-needed it does nothing when both outputs are newer than every file in assembly/
// and asconfig.json.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const targets = ['shared', 'private'];
const outputs = targets.map((t) => join(root, 'build', `ringsocket.${t}.wasm`));

function newestSource() {
  let newest = statSync(join(root, 'asconfig.json')).mtimeMs;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.mtimeMs > newest) newest = st.mtimeMs;
    }
  };
  walk(join(root, 'assembly'));
  return newest;
}

if (process.argv.includes('--if-needed')) {
  const src = newestSource();
  if (outputs.every((o) => existsSync(o) && statSync(o).mtimeMs >= src)) process.exit(0);
}
mkdirSync(join(root, 'build'), { recursive: true });
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
for (const target of targets) {
  const r = spawnSync(process.execPath, [asc, 'assembly/index.ts', '--config', 'asconfig.json', '--target', target], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error(`build: asc failed for target ${target}`);
    process.exit(r.status ?? 1);
  }
}
console.error(`build: wrote ${outputs.map((o) => o.slice(root.length + 1)).join(', ')}`);
