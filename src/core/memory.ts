// The host decides every address in the core's linear memory (docs/design.md "Memory layout").
// A MemoryPlan hands out aligned regions above the module's static data (heapBase) and says how
// many 64 KiB pages the memory needs. The memory never grows: create it with
// createMemory(build, plan.bytes) once every region has been allocated.

/** Size of a WebAssembly page. */
export const PAGE_SIZE = 65536;
/** A 32-bit WebAssembly memory holds at most 65536 pages (4 GiB). */
export const MAX_PAGES = 65536;
export const MAX_MEMORY_BYTES = PAGE_SIZE * MAX_PAGES;
/** Default alignment of a region: one cache line, so regions written by different threads never share one. */
export const CACHE_LINE = 64;

/** Thrown when a plan needs more than a 32-bit memory can hold. */
export class MemoryPlanError extends Error {
  readonly code = 'RS_ERR_MEMORY_PLAN';
  constructor(message: string) {
    super(message);
    this.name = 'MemoryPlanError';
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

export interface MemoryPlanOptions {
  /**
   * Only measure: let the plan pass 4 GiB instead of throwing MemoryPlanError, so that a caller
   * can say how much too large a layout is (the config check does).
   */
  readonly unbounded?: boolean;
}

export class MemoryPlan {
  readonly heapBase: number;
  readonly #limit: number;
  #end: number;

  /** `heapBase`: the first byte above the module's static data (Core.heapBase, readHeapBase()). */
  constructor(heapBase: number, options: MemoryPlanOptions = {}) {
    if (!Number.isSafeInteger(heapBase) || heapBase < 0 || heapBase > MAX_MEMORY_BYTES) {
      throw new RangeError(`MemoryPlan: heapBase must be an integer from 0 to ${MAX_MEMORY_BYTES}, got ${heapBase}`);
    }
    this.heapBase = heapBase;
    this.#limit = options.unbounded ? Number.MAX_SAFE_INTEGER : MAX_MEMORY_BYTES;
    this.#end = heapBase;
  }

  /**
   * Reserves `bytes` bytes at the next multiple of `align` (a power of two) and returns the
   * address. Zero-byte regions are allowed (they get an aligned address and take no space).
   * Throws MemoryPlanError when the plan would pass 4 GiB (unless it is unbounded).
   */
  alloc(bytes: number, align = CACHE_LINE): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`MemoryPlan.alloc: bytes must be a non-negative integer, got ${bytes}`);
    }
    if (!isPowerOfTwo(align)) {
      throw new RangeError(`MemoryPlan.alloc: align must be a power of two, got ${align}`);
    }
    const at = Math.ceil(this.#end / align) * align;
    const end = at + bytes;
    if (end > this.#limit) {
      throw new MemoryPlanError(
        `memory plan needs ${end} bytes (${Math.ceil(end / PAGE_SIZE)} pages) but a WebAssembly memory ` +
          `holds at most ${MAX_MEMORY_BYTES} bytes (4 GiB, ${MAX_PAGES} pages): reduce the configured buffer sizes`,
      );
    }
    this.#end = end;
    return at;
  }

  /** End of the last region: the memory must have at least this many bytes. */
  get bytes(): number {
    return this.#end;
  }

  /** Pages needed for `bytes` (at least 1). */
  get pages(): number {
    return Math.max(1, Math.ceil(this.#end / PAGE_SIZE));
  }
}
