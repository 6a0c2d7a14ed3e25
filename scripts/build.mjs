#!/usr/bin/env node
// Builds what the package ships:
//   build/ringsocket.shared.wasm  - shared imported memory (threads + SIMD), for the daemon
//   build/ringsocket.private.wasm - private imported memory, for browsers and single-thread use
//   dist/**/*.js, dist/**/*.d.ts  - src/ compiled to ESM JavaScript and declarations (tsconfig.build.json)
//
//   node scripts/build.mjs                          everything (npm run build, prepack)
//   node scripts/build.mjs --if-needed              each part only when older than its sources
//                                                   (prepare: npm install, git and directory installs)
//   node scripts/build.mjs --if-needed --wasm-only  the .wasm files only (npm start, npm test: they
//                                                   run src/ as it is)
//
// Every output is written beside its final place and renamed into it, so that a build running at
// the same time (a test packing the project while the demo builds) never sees half a file or an
// empty dist/.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdirSync, rmSync, renameSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ifNeeded = process.argv.includes('--if-needed');
const wasmOnly = process.argv.includes('--wasm-only');
const tmp = (p) => `${p}.tmp-${process.pid}`;

/** The newest modification time of the given files and of every file below the given folders. */
function newest(paths) {
  let t = 0;
  const visit = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
    else if (st.mtimeMs > t) t = st.mtimeMs;
  };
  for (const p of paths) visit(join(root, p));
  return t;
}
const olderThan = (out, sources) => !existsSync(out) || statSync(out).mtimeMs < newest(sources);

function node(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

// The two WebAssembly builds.
const targets = ['shared', 'private'];
const wasm = targets.map((t) => join(root, 'build', `ringsocket.${t}.wasm`));
if (!ifNeeded || wasm.some((o) => olderThan(o, ['asconfig.json', 'assembly']))) {
  mkdirSync(join(root, 'build'), { recursive: true });
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  targets.forEach((target, i) => {
    const wat = wasm[i].replace(/\.wasm$/, '.wat');
    node([asc, 'assembly/index.ts', '--config', 'asconfig.json', '--target', target,
      '--outFile', tmp(wasm[i]), '--textFile', tmp(wat)], `asc (target ${target})`);
    renameSync(tmp(wasm[i]), wasm[i]);
    renameSync(tmp(wat), wat);
  });
  console.error(`build: wrote ${wasm.map((o) => o.slice(root.length + 1)).join(', ')}`);
}
if (wasmOnly) process.exit(0);

// dist/: compiled into a fresh folder (so no file of a removed source module is shipped), then
// swapped in.
const dist = join(root, 'dist');
if (!ifNeeded || olderThan(join(dist, 'app', 'index.js'), ['src', 'tsconfig.json', 'tsconfig.build.json'])) {
  const out = tmp(dist);
  rmSync(out, { recursive: true, force: true });
  node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out], 'tsc (tsconfig.build.json)');
  for (let tries = 0; ; tries++) {
    const old = `${dist}.old-${process.pid}-${tries}`;
    try { renameSync(dist, old); } catch { /* no dist/ yet, or another build moved it */ }
    try {
      renameSync(out, dist);
      rmSync(old, { recursive: true, force: true });
      break;
    } catch (err) {
      // Another build put its dist/ in place between the two renames: move that one aside too.
      rmSync(old, { recursive: true, force: true });
      if (tries > 10) throw err;
    }
  }
  console.error('build: wrote dist/ (JavaScript and declarations of src/)');
}
