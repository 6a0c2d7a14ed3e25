#!/usr/bin/env node
// Builds what the package ships:
//   build/ringsocket.shared.wasm  - shared imported memory (threads + SIMD), for the daemon
//   build/ringsocket.private.wasm - private imported memory, for browsers and single-thread use
//   dist/**/*.js, dist/**/*.d.ts  - src/ compiled to ESM JavaScript and declarations (tsconfig.build.json)
// With --if-needed (before npm start / npm test, which run src/ as it is) it only builds the two
// .wasm files, and only when one is older than a file in assembly/ or asconfig.json.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdirSync, rmSync } from 'node:fs';
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

const ifNeeded = process.argv.includes('--if-needed');
if (ifNeeded) {
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
if (ifNeeded) process.exit(0);

// dist/: emptied first, so that no file of a removed source module is shipped.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed (tsconfig.build.json)');
  process.exit(r.status ?? 1);
}
console.error('build: wrote dist/ (JavaScript and declarations of src/)');
