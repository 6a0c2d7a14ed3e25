// The core loader (src/core/wasm.ts): compiling both builds, the memory, instantiation in this
// thread and in a worker, and rejection of modules whose imports or exports differ from the
// contract (hand-assembled modules that differ from a valid one in exactly one way).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import {
  CORE_EXPORTS, CoreLoadError, compileCore, createMemory, instantiateCore, readHeapBase, wasmPath, checkModule, readMemoryImport,
} from '../src/core/wasm.ts';
import { MemoryPlan } from '../src/core/memory.ts';
import { Ring, RING_HEADER_SIZE } from '../src/core/ring.ts';
import { withDeadline } from './helpers/deadline.ts';

const Loader = suite('core loader');

// ---- a tiny module assembler ----
const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [...leb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];

interface Spec {
  imports: { module: string; name: string; kind: 'memory' | 'func'; shared?: boolean }[];
  /** name -> parameter count; 'memory' exports the imported memory. */
  exports: Record<string, number | 'memory'>;
}

/** A module whose exported functions take i32 parameters and return 0. */
function assemble(spec: Spec): Uint8Array<ArrayBuffer> {
  const arities = [...new Set([0, ...Object.values(spec.exports).filter((v): v is number => typeof v === 'number')])];
  const types = arities.map((n) => [0x60, ...leb(n), ...Array(n).fill(0x7f), 1, 0x7f]);
  const imports = spec.imports.map((i) =>
    i.kind === 'memory'
      ? [...str(i.module), ...str(i.name), 0x02, i.shared ? 0x03 : 0x01, ...leb(1), ...leb(65536)]
      : [...str(i.module), ...str(i.name), 0x00, ...leb(0)],
  );
  const importedFuncs = spec.imports.filter((i) => i.kind === 'func').length;
  const funcs = Object.entries(spec.exports).filter(([, v]) => v !== 'memory') as [string, number][];
  const exports = Object.entries(spec.exports).map(([name, v]) =>
    v === 'memory' ? [...str(name), 0x02, 0] : [...str(name), 0x00, ...leb(importedFuncs + funcs.findIndex(([n]) => n === name))],
  );
  const body = [0x00, 0x41, 0x00, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs.map(([, n]) => leb(arities.indexOf(n))))),
    ...section(7, vec(exports)),
    ...section(10, vec(funcs.map(() => [...leb(body.length), ...body]))),
  ]);
}

const validSpec = (shared: boolean): Spec => ({
  imports: [{ module: 'env', name: 'memory', kind: 'memory', shared }],
  exports: { ...CORE_EXPORTS },
});

function rejects(f: () => unknown, code: string, message: string): void {
  let error: unknown;
  try { f(); } catch (e) { error = e; }
  assert.instance(error, CoreLoadError, `expected a CoreLoadError, got ${error}`);
  assert.is((error as CoreLoadError).code, code);
  assert.is((error as CoreLoadError).message, message);
}

async function rejectsAsync(p: Promise<unknown>, code: string, message: string): Promise<void> {
  let error: unknown;
  try { await p; } catch (e) { error = e; }
  assert.instance(error, CoreLoadError, `expected a CoreLoadError, got ${error}`);
  assert.is((error as CoreLoadError).code, code);
  assert.is((error as CoreLoadError).message, message);
}

Loader('wasmPath points at build/ringsocket.<build>.wasm', () => {
  for (const build of ['shared', 'private'] as const) {
    const url = wasmPath(build);
    assert.is(url.protocol, 'file:');
    assert.ok(url.pathname.endsWith(`/build/ringsocket.${build}.wasm`));
    assert.ok(existsSync(url), `${url.pathname} exists (npm run build)`);
  }
  assert.throws(() => wasmPath('simd' as never), (e: Error) => e instanceof TypeError && e.message === `unknown core build "simd": expected 'shared' or 'private'`);
});

Loader('compiles both builds; each exports exactly CORE_EXPORTS and imports only env.memory', async () => {
  for (const build of ['shared', 'private'] as const) {
    const module = await compileCore(build);
    assert.equal(WebAssembly.Module.exports(module).map((e) => e.name).sort(), Object.keys(CORE_EXPORTS).sort());
    assert.equal(WebAssembly.Module.imports(module), [{ module: 'env', name: 'memory', kind: 'memory' }]);
    const type = readMemoryImport(readFileSync(wasmPath(build)));
    assert.is(type.shared, build === 'shared');
    assert.is(type.initial, 1);
    assert.is(type.maximum, 65536);
  }
});

Loader('accepts the module as bytes or as a file URL string', async () => {
  const bytes = readFileSync(wasmPath('private'));
  assert.instance(await compileCore('private', bytes), WebAssembly.Module);
  assert.instance(await compileCore('private', bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), WebAssembly.Module);
  assert.instance(await compileCore('shared', wasmPath('shared').href), WebAssembly.Module);
});

Loader('refuses a build whose memory import is of the other kind', async () => {
  await rejectsAsync(compileCore('shared', readFileSync(wasmPath('private'))), 'RS_ERR_CORE_IMPORTS',
    'the shared build must import a shared memory, but this module imports a private one');
  await rejectsAsync(compileCore('private', readFileSync(wasmPath('shared'))), 'RS_ERR_CORE_IMPORTS',
    'the private build must import a private (unshared) memory, but this module imports a shared one');
});

Loader('refuses bytes that are not a module', async () => {
  let error: unknown;
  try { await compileCore('private', new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])); } catch (e) { error = e; }
  assert.instance(error, CoreLoadError);
  assert.is((error as CoreLoadError).code, 'RS_ERR_CORE_BINARY');
  assert.ok((error as Error).message.startsWith('the private core does not compile: '));
});

Loader('createMemory makes a memory that cannot grow, shared for the shared build', () => {
  const m = createMemory('shared', 65537);
  assert.instance(m.buffer, SharedArrayBuffer);
  assert.is(m.buffer.byteLength, 2 * 65536);
  assert.throws(() => m.grow(1), RangeError);
  const p = createMemory('private', 0);
  assert.instance(p.buffer, ArrayBuffer);
  assert.is(p.buffer.byteLength, 65536);
  assert.throws(() => createMemory('private', 2 ** 32 + 1),
    (e: Error) => e instanceof RangeError && e.message === 'createMemory: 4294967297 bytes need 65537 pages, more than the 65536 (4 GiB) a WebAssembly memory holds');
});

Loader('instantiates with views over the whole memory and the module heapBase', async () => {
  for (const build of ['shared', 'private'] as const) {
    const module = await compileCore(build);
    const heapBase = readHeapBase(module, build);
    assert.ok(heapBase >= 1024 && heapBase < 65536, `heapBase ${heapBase}`);
    const memory = createMemory(build, 3 * 65536);
    const core = instantiateCore(module, memory);
    assert.is(core.heapBase, heapBase);
    assert.is(core.shared, build === 'shared');
    assert.is(core.memory, memory);
    for (const view of [core.u8, core.i32, core.u32, core.dv]) {
      assert.is(view.buffer, memory.buffer);
      assert.is(view.byteLength, 3 * 65536);
    }
    assert.is(core.exports.ringHeaderSize(), RING_HEADER_SIZE);
  }
});

Loader('refuses a memory of the wrong kind for the build', async () => {
  const shared = await compileCore('shared');
  const priv = await compileCore('private');
  let error: unknown;
  try { instantiateCore(shared, createMemory('private', 65536)); } catch (e) { error = e; }
  assert.instance(error, CoreLoadError);
  assert.is((error as CoreLoadError).code, 'RS_ERR_CORE_MEMORY');
  assert.ok((error as Error).message.startsWith('the core does not accept this private memory of 65536 bytes (the shared build needs a shared memory, the private build a private one): '));
  error = undefined;
  try { instantiateCore(priv, createMemory('shared', 65536)); } catch (e) { error = e; }
  assert.is((error as CoreLoadError).code, 'RS_ERR_CORE_MEMORY');
  assert.ok((error as Error).message.startsWith('the core does not accept this shared memory of 65536 bytes'));
});

const Shape = suite('core loader: module shape');

Shape('a hand-assembled module with exactly the contract loads (control for the cases below)', () => {
  for (const shared of [true, false]) {
    const module = new WebAssembly.Module(assemble(validSpec(shared)));
    const core = instantiateCore(module, createMemory(shared ? 'shared' : 'private', 65536));
    assert.is(core.heapBase, 0);
  }
});

Shape('rejects an extra import such as env.abort', () => {
  const spec = validSpec(true);
  spec.imports.push({ module: 'env', name: 'abort', kind: 'func' });
  rejects(() => checkModule(new WebAssembly.Module(assemble(spec))), 'RS_ERR_CORE_IMPORTS',
    'the core must import exactly env.memory (memory), but it imports env.memory (memory), env.abort (function)');
});

Shape('rejects a module that imports no memory', () => {
  const spec = validSpec(true);
  spec.imports = [];
  rejects(() => checkModule(new WebAssembly.Module(assemble(spec))), 'RS_ERR_CORE_IMPORTS',
    'the core must import exactly env.memory (memory), but it imports nothing');
});

Shape('rejects a memory imported under another name', () => {
  const spec = validSpec(false);
  spec.imports = [{ module: 'env', name: 'mem', kind: 'memory' }];
  rejects(() => checkModule(new WebAssembly.Module(assemble(spec))), 'RS_ERR_CORE_IMPORTS',
    'the core must import exactly env.memory (memory), but it imports env.mem (memory)');
});

Shape('rejects a missing export, an allocator export and an exported memory', () => {
  const missing = validSpec(true);
  delete missing.exports.ringPeek;
  rejects(() => checkModule(new WebAssembly.Module(assemble(missing))), 'RS_ERR_CORE_EXPORTS',
    "the core's exports differ from CORE_EXPORTS in src/core/wasm.ts: missing ringPeek");
  const extra = validSpec(true);
  extra.exports.__new = 2;
  extra.exports.memory = 'memory';
  rejects(() => checkModule(new WebAssembly.Module(assemble(extra))), 'RS_ERR_CORE_EXPORTS',
    "the core's exports differ from CORE_EXPORTS in src/core/wasm.ts: unexpected __new, memory");
  const both = validSpec(false);
  delete both.exports.heapBase;
  both.exports.__alloc = 1;
  rejects(() => instantiateCore(new WebAssembly.Module(assemble(both)), createMemory('private', 65536)), 'RS_ERR_CORE_EXPORTS',
    "the core's exports differ from CORE_EXPORTS in src/core/wasm.ts: missing heapBase; unexpected __alloc");
});

Shape('rejects an export whose parameter count differs from the contract', () => {
  const spec = validSpec(true);
  spec.exports.ringReserve = 3;
  rejects(() => instantiateCore(new WebAssembly.Module(assemble(spec)), createMemory('shared', 65536)), 'RS_ERR_CORE_EXPORTS',
    "the core's export ringReserve takes 3 parameters, expected 2");
});

const Threads = suite('core loader: threads');

Threads('a worker instantiates the compiled module over the shared memory from workerData and shares a ring', async () => {
  const module = await compileCore('shared');
  const plan = new MemoryPlan(readHeapBase(module, 'shared'));
  const wakes = [plan.alloc(64), plan.alloc(64)];
  const header = plan.alloc(RING_HEADER_SIZE);
  const data = plan.alloc(4096);
  const memory = createMemory('shared', plan.bytes);
  const core = instantiateCore(module, memory);
  const ring = Ring.init(core, header, data, 4096, wakes[0], wakes[1]);
  const worker = new Worker(new URL('./fixtures/ring-wake-worker.ts', import.meta.url), { workerData: { module, memory, header, wake: wakes[1] } });
  try {
    worker.postMessage({ op: 'commit', count: 3, size: 10 });
    await withDeadline(once(worker, 'message'), 10_000, 'worker commit');
    for (let i = 0; i < 3; i++) {
      const ptr = ring.peek();
      assert.ok(ptr !== 0);
      assert.is(ring.peekSize(), 10);
      assert.is(core.u8[ptr], i, 'the byte the worker wrote');
      ring.release();
    }
    assert.is(ring.peek(), 0);
  } finally {
    await worker.terminate();
  }
});

Loader.run();
Shape.run();
Threads.run();
