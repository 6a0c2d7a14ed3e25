// The WebAssembly core: one module, two builds (see asconfig.json and docs/design.md).
// No runtime, no allocation, no strings, no mutable module-level state: every address comes from
// the host (src/core/memory.ts lays the memory out above heapBase()).
export * from './codec/index';
export * from './ring';

/** First byte above the module's static data; the host lays out its regions from here up. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * Copies `len` bytes from `src` to `dst` inside the memory (the regions may overlap). JavaScript
 * copies between two views of a shared memory go through V8's byte-safe copy, which is several
 * times slower than `memory.copy`; the daemon moves payloads between its regions with this.
 */
export function copy(dst: usize, src: usize, len: usize): void {
  memory.copy(dst, src, len);
}
