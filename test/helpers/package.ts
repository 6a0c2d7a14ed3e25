// The package as users get it: `npm pack` of this checkout (prepack builds the .wasm files and
// dist/) installed into a fresh project outside the repository. test/package.test.ts checks the
// tarball and the install; the browser tests serve the installed copy to Chromium.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { root } from './daemon.ts';

/** Node 24 (this process's) first on PATH, as npm scripts have it. */
export const npmEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

/** Runs a command to completion; throws with its output unless it exits 0. */
export function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: npmEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export interface Packed {
  tarball: string;
  files: string[];
}

function npmPack(destDir: string): Packed {
  const r = run('npm', ['pack', '--json', '--pack-destination', destDir], root);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(destDir, info[0].filename), files: info[0].files.map((f) => f.path) };
}

/**
 * `npm pack` of the repository (its prepack builds the .wasm files and dist/): a copy of the
 * tarball in `destDir`, and the files it holds. Under test/run.ts (RS_TEST_RUN_DIR set) the
 * project is packed once per test run, by whichever file asks first, and the other files reuse
 * that tarball: one build per run, and no two builds of the checkout at once.
 */
export function packTarball(destDir: string): Packed {
  const runDir = process.env.RS_TEST_RUN_DIR;
  if (!runDir) return npmPack(destDir);
  const done = join(runDir, 'packed.json');
  const lock = join(runDir, 'packing');
  let mine = false;
  try {
    mkdirSync(lock); // atomic: one packer per run
    mine = true;
  } catch { /* another file is packing, or has packed */ }
  if (mine) {
    const packed = npmPack(runDir);
    writeFileSync(done, JSON.stringify(packed));
  } else {
    const deadline = Date.now() + 240_000;
    while (!existsSync(done)) {
      if (Date.now() > deadline) throw new Error('waited 240 s for another test file to pack the project');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  const packed = JSON.parse(readFileSync(done, 'utf8')) as Packed;
  const tarball = join(destDir, packed.tarball.slice(packed.tarball.lastIndexOf('/') + 1));
  copyFileSync(packed.tarball, tarball);
  return { tarball, files: packed.files };
}

/** A fresh ESM project in `dir` (its package.json), with the tarball installed as a user would. */
export function installTarball(dir: string, tarball: string): void {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], dir);
}

export interface InstalledPackage {
  /** The consumer project. */
  dir: string;
  /** Its node_modules/ringsocket. */
  pkg: string;
  /** Removes the project. */
  remove(): void;
}

/** Packs this checkout and installs it into a new temporary project (about 10 s). */
export function installPackage(): InstalledPackage {
  const dir = mkdtempSync(join(tmpdir(), 'rs-consumer-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const { tarball } = packTarball(dir);
    installTarball(dir, tarball);
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, pkg: join(dir, 'node_modules', 'ringsocket'), remove };
}

type ExportTarget = string | { [condition: string]: ExportTarget };

/**
 * A browser import map for the package at `pkgDir` served at URL path `base` (e.g. '/ringsocket/'):
 * each export ('.', './client', './codec') resolved through its package.json "exports" with the
 * conditions a browser import map stands for (browser, import, default), `types` ignored.
 */
export function importMapFor(pkgDir: string, base: string): { imports: Record<string, string> } {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, ExportTarget> };
  const pick = (t: ExportTarget): string | undefined => {
    if (typeof t === 'string') return t;
    for (const c of ['browser', 'import', 'default']) if (t[c] !== undefined) return pick(t[c]);
    return undefined;
  };
  const imports: Record<string, string> = {};
  for (const [key, target] of Object.entries(pkg.exports)) {
    const file = pick(target);
    if (!file || !file.endsWith('.js')) continue; // ./package.json
    imports[pkg.name + key.slice(1)] = base + file.replace(/^\.\//, '');
  }
  return { imports };
}
