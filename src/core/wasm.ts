// Loader of the WebAssembly core (docs/design.md "Loader", docs/core.md).
//
//   build 'shared'  build/ringsocket.shared.wasm   imports a shared memory (threads + SIMD): the daemon
//   build 'private' build/ringsocket.private.wasm  imports a private memory: browsers, tools, tests
//
// Compile once (compileCore), plan the memory above the module's static data (readHeapBase +
// MemoryPlan), create the memory once (createMemory), then instantiate once per thread
// (instantiateCore). A compiled Module and a shared Memory can both be sent to a worker through
// workerData or postMessage; the worker calls instantiateCore(module, memory) itself.
//
// At load time the module must import exactly `env.memory` and export exactly the functions in
// CORE_EXPORTS, each with the declared number of parameters. Anything else is a CoreLoadError.
//
// This file must stay loadable in a browser: it imports no Node module; a file: URL is read through
// process.getBuiltinModule('node:fs'), reached only in Node.

import type { CodecExports } from './codec.ts';

export type CoreBuild = 'shared' | 'private';

// ---------------------------------------------------------------------------------------------
// The export table. To add an export to assembly/: add its signature to the matching interface
// (BaseExports and RingExports below; CodecExports lives in src/core/codec.ts) AND its parameter
// count to CORE_EXPORTS. `satisfies` makes tsc reject a name that is in
// one but not the other, or a parameter count that differs from the signature; at load time the
// module must export exactly these names with exactly these parameter counts. All exports take
// and return i32 (a JS number; an i32 result above 2^31 arrives negative: use `>>> 0`).
// ---------------------------------------------------------------------------------------------

/** assembly/index.ts */
export interface BaseExports {
  /** First byte above the module's static data (__heap_base). */
  heapBase(): number;
  /** memory.copy: `len` bytes from `src` to `dst` inside the memory (overlap allowed). */
  copy(dst: number, src: number, len: number): void;
}

/** assembly/ring.ts (src/core/ring.ts wraps these; see the comments in assembly/ring.ts). */
export interface RingExports {
  ringHeaderSize(): number;
  ringMaxRecord(capacity: number): number;
  ringInit(header: number, data: number, capacity: number, consumerWake: number, producerWake: number): number;
  ringMagic(header: number): number;
  ringReserve(header: number, size: number): number;
  ringStage(header: number, size: number): number;
  ringPublish(header: number): number;
  ringCommit(header: number, size: number): number;
  ringWantSpace(header: number): void;
  ringPeek(header: number): number;
  ringPeekSize(header: number): number;
  ringConsume(header: number): number;
  ringReleaseConsumed(header: number): number;
  ringRelease(header: number): number;
}

export interface CoreExports extends BaseExports, RingExports, CodecExports {}

type ParamCounts<T> = { [K in keyof T]: T[K] extends (...args: infer P) => unknown ? P['length'] : never };

/** Every export of the core and its parameter count: the module must match this exactly. */
export const CORE_EXPORTS = {
  // assembly/index.ts
  heapBase: 0,
  copy: 3,
  // assembly/ring.ts
  ringHeaderSize: 0,
  ringMaxRecord: 1,
  ringInit: 5,
  ringMagic: 1,
  ringReserve: 2,
  ringStage: 2,
  ringPublish: 1,
  ringCommit: 2,
  ringWantSpace: 1,
  ringPeek: 1,
  ringPeekSize: 1,
  ringConsume: 1,
  ringReleaseConsumed: 1,
  ringRelease: 1,
  // assembly/codec/** (CodecExports in src/core/codec.ts)
  decoderInit: 6,
  decode: 3,
  decoderStateSize: 0,
  mask: 3,
  utf8Validate: 3,
  frameHeaderSize: 2,
  encodeFrameHeader: 6,
  encodeFrame: 6,
  encodeClose: 6,
} as const satisfies ParamCounts<CoreExports>;

export interface Core {
  /** Typed exports, checked at load: exact names and parameter counts. */
  exports: CoreExports;
  memory: WebAssembly.Memory;
  /** Views over the whole memory, created once (the memory never grows). */
  u8: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
  dv: DataView;
  /** First byte above the module's static data: every host region lies at or above it. */
  heapBase: number;
  /** True when the memory is shared (the shared build). */
  shared: boolean;
}

/** A module or memory that does not fit the loader's contract. */
export class CoreLoadError extends Error {
  readonly code: 'RS_ERR_CORE_IMPORTS' | 'RS_ERR_CORE_EXPORTS' | 'RS_ERR_CORE_MEMORY' | 'RS_ERR_CORE_BINARY';
  constructor(code: CoreLoadError['code'], message: string) {
    super(message);
    this.name = 'CoreLoadError';
    this.code = code;
  }
}

/** Where the build's .wasm file is: build/ringsocket.<build>.wasm next to src/. */
export function wasmPath(build: CoreBuild): URL {
  checkBuild(build);
  return new URL(`../../build/ringsocket.${build}.wasm`, import.meta.url);
}

/**
 * Compiles a build of the core. `source` defaults to wasmPath(build); it may be another URL
 * (file: is read from disk, anything else is fetched: browsers) or the module's bytes. The
 * module's imports and exports are checked, and so is its memory import: shared for the shared
 * build, private for the private one.
 */
export async function compileCore(
  build: CoreBuild,
  source: URL | string | ArrayBuffer | ArrayBufferView = wasmPath(build),
): Promise<WebAssembly.Module> {
  checkBuild(build);
  const bytes = await readSource(source);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new CoreLoadError('RS_ERR_CORE_BINARY', `the ${build} core does not compile: ${(err as Error).message}`);
  }
  checkModule(module);
  const memoryType = readMemoryImport(bytes);
  if (memoryType.shared !== (build === 'shared')) {
    throw new CoreLoadError(
      'RS_ERR_CORE_IMPORTS',
      `the ${build} build must import a ${build === 'shared' ? 'shared' : 'private (unshared)'} memory, ` +
        `but this module imports a ${memoryType.shared ? 'shared' : 'private'} one`,
    );
  }
  return module;
}

/**
 * A memory for `bytes` bytes (at least one page) that never grows: initial = maximum. Shared for
 * the shared build. Throws a RangeError past 4 GiB.
 */
export function createMemory(build: CoreBuild, bytes: number): WebAssembly.Memory {
  checkBuild(build);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`createMemory: bytes must be a non-negative integer, got ${bytes}`);
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (pages > 65536) throw new RangeError(`createMemory: ${bytes} bytes need ${pages} pages, more than the 65536 (4 GiB) a WebAssembly memory holds`);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: build === 'shared' });
}

/**
 * Instantiates the core over `memory` in this thread. Checks the module's imports and exports,
 * links it to the memory (a shared build needs a shared memory and the other way round) and
 * creates the views once.
 */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Core {
  checkModule(module);
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new CoreLoadError('RS_ERR_CORE_MEMORY', 'instantiateCore: memory must be a WebAssembly.Memory');
  }
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, { env: { memory } });
  } catch (err) {
    if (err instanceof WebAssembly.LinkError) {
      throw new CoreLoadError(
        'RS_ERR_CORE_MEMORY',
        `the core does not accept this ${shared ? 'shared' : 'private'} memory of ${memory.buffer.byteLength} bytes ` +
          `(the shared build needs a shared memory, the private build a private one): ${err.message}`,
      );
    }
    throw err;
  }
  const exports = instance.exports as unknown as CoreExports;
  const counts = CORE_EXPORTS as Record<string, number>;
  for (const name of Object.keys(counts)) {
    const fn = (exports as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function' || fn.length !== counts[name]) {
      throw new CoreLoadError(
        'RS_ERR_CORE_EXPORTS',
        `the core's export ${name} takes ${typeof fn === 'function' ? fn.length : '?'} parameters, expected ${counts[name]}`,
      );
    }
  }
  const buffer = memory.buffer;
  const heapBase = exports.heapBase() >>> 0;
  if (heapBase > buffer.byteLength) {
    throw new CoreLoadError('RS_ERR_CORE_MEMORY', `the core's static data ends at ${heapBase}, past the memory's ${buffer.byteLength} bytes`);
  }
  return {
    exports,
    memory,
    u8: new Uint8Array(buffer),
    i32: new Int32Array(buffer),
    u32: new Uint32Array(buffer),
    dv: new DataView(buffer),
    heapBase,
    shared,
  };
}

/**
 * The module's heapBase, read before the real memory exists (the memory plan starts there): the
 * module is instantiated once over a throwaway one-page memory of the build's kind.
 */
export function readHeapBase(module: WebAssembly.Module, build: CoreBuild): number {
  return instantiateCore(module, createMemory(build, 65536)).heapBase;
}

/**
 * Throws CoreLoadError unless the module imports exactly `env.memory` (a memory) and exports
 * exactly the names in CORE_EXPORTS, all functions.
 */
export function checkModule(module: WebAssembly.Module): void {
  const imports = WebAssembly.Module.imports(module);
  const bad = imports.filter((i) => !(i.module === 'env' && i.name === 'memory' && i.kind === 'memory'));
  if (imports.length !== 1 || bad.length > 0) {
    const list = imports.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ') || 'nothing';
    throw new CoreLoadError('RS_ERR_CORE_IMPORTS', `the core must import exactly env.memory (memory), but it imports ${list}`);
  }
  const expected = new Set(Object.keys(CORE_EXPORTS));
  const exports = WebAssembly.Module.exports(module);
  const got = new Set(exports.map((e) => e.name));
  const missing = [...expected].filter((n) => !got.has(n));
  const extra = exports.filter((e) => !expected.has(e.name)).map((e) => e.name);
  const notFunctions = exports.filter((e) => expected.has(e.name) && e.kind !== 'function').map((e) => `${e.name} (${e.kind})`);
  if (missing.length || extra.length || notFunctions.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`unexpected ${extra.join(', ')}`);
    if (notFunctions.length) parts.push(`not functions: ${notFunctions.join(', ')}`);
    throw new CoreLoadError(
      'RS_ERR_CORE_EXPORTS',
      `the core's exports differ from CORE_EXPORTS in src/core/wasm.ts: ${parts.join('; ')}`,
    );
  }
}

function checkBuild(build: CoreBuild): void {
  if (build !== 'shared' && build !== 'private') throw new TypeError(`unknown core build ${JSON.stringify(build)}: expected 'shared' or 'private'`);
}

async function readSource(source: URL | string | ArrayBuffer | ArrayBufferView): Promise<Uint8Array> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  const url = typeof source === 'string' ? new URL(source, import.meta.url) : source;
  if (url.protocol === 'file:') {
    // Node (and Deno, Bun): process.getBuiltinModule, not an import, so that no browser, bundler
    // or import map ever sees a node: specifier in this file (test/codec-browser-safe.test.ts).
    const fs = globalThis.process?.getBuiltinModule?.('node:fs');
    if (!fs) throw new CoreLoadError('RS_ERR_CORE_BINARY', `cannot read ${url.href} here (no file system): pass the .wasm bytes or an http(s) URL`);
    return new Uint8Array(await fs.promises.readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new CoreLoadError('RS_ERR_CORE_BINARY', `fetching ${url.href} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The memory import's type, read from the binary's import section (the JS API does not expose it). */
export function readMemoryImport(bytes: Uint8Array): { shared: boolean; initial: number; maximum: number | undefined } {
  let p = 8;
  const fail = (what: string): never => {
    throw new CoreLoadError('RS_ERR_CORE_BINARY', `cannot read the core's memory import: ${what}`);
  };
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (p >= bytes.length || shift > 28) fail('truncated LEB128');
      const b = bytes[p++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  const name = (): string => {
    const len = u32();
    const s = new TextDecoder().decode(bytes.subarray(p, p + len));
    p += len;
    return s;
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u32();
    const end = p + size;
    if (id !== 2) {
      p = end;
      continue;
    }
    const count = u32();
    for (let i = 0; i < count; i++) {
      const mod = name();
      const field = name();
      const kind = bytes[p++];
      if (kind === 2) {
        const flags = bytes[p++];
        const initial = u32();
        const maximum = flags & 1 ? u32() : undefined;
        if (mod === 'env' && field === 'memory') return { shared: (flags & 2) !== 0, initial, maximum };
      } else {
        fail(`import ${mod}.${field} of kind ${kind} comes before env.memory`);
      }
    }
    p = end;
  }
  return fail('no env.memory import');
}
