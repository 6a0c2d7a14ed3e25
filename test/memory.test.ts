// MemoryPlan (src/core/memory.ts): aligned regions above heapBase, the page count, the 4 GiB limit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPlan, MemoryPlanError, PAGE_SIZE, MAX_PAGES } from '../src/core/memory.ts';

const Plan = suite('MemoryPlan');

Plan('starts at the first 64-byte boundary at or above heapBase and aligns every region', () => {
  const plan = new MemoryPlan(1184);
  assert.is(plan.bytes, 1184);
  assert.is(plan.alloc(10), 1216);
  assert.is(plan.alloc(320), 1280);
  assert.is(plan.alloc(1, 8), 1600);
  assert.is(plan.alloc(4, 4), 1604);
  assert.is(plan.alloc(100, 4096), 4096);
  assert.is(plan.bytes, 4196);
  assert.is(new MemoryPlan(1024).alloc(8), 1024, 'an aligned heapBase is used as is');
});

Plan('allows zero-byte regions and counts pages (at least one)', () => {
  const plan = new MemoryPlan(0);
  assert.is(plan.pages, 1);
  assert.is(plan.alloc(0), 0);
  assert.is(plan.alloc(PAGE_SIZE), 0);
  assert.is(plan.pages, 1);
  assert.is(plan.alloc(1), PAGE_SIZE);
  assert.is(plan.pages, 2);
});

Plan('fills exactly 4 GiB and rejects one byte more with a clear error', () => {
  const plan = new MemoryPlan(64);
  plan.alloc(2 ** 32 - 128);
  assert.is(plan.alloc(64), 2 ** 32 - 64);
  assert.is(plan.pages, MAX_PAGES);
  let error: unknown;
  try { plan.alloc(1, 1); } catch (e) { error = e; }
  assert.instance(error, MemoryPlanError);
  assert.is((error as MemoryPlanError).code, 'RS_ERR_MEMORY_PLAN');
  assert.is((error as Error).message,
    'memory plan needs 4294967297 bytes (65537 pages) but a WebAssembly memory holds at most 4294967296 bytes (4 GiB, 65536 pages): reduce the configured buffer sizes');
  assert.is(plan.bytes, 2 ** 32, 'a refused region takes nothing');
});

Plan('measures past 4 GiB without throwing when unbounded', () => {
  const plan = new MemoryPlan(0, { unbounded: true });
  plan.alloc(PAGE_SIZE * MAX_PAGES);
  assert.is(plan.alloc(1), PAGE_SIZE * MAX_PAGES);
  assert.is(plan.bytes, PAGE_SIZE * MAX_PAGES + 1);
});

Plan('rejects bad sizes, alignments and heap bases', () => {
  const plan = new MemoryPlan(100);
  assert.throws(() => plan.alloc(-1), (e: Error) => e instanceof RangeError && e.message === 'MemoryPlan.alloc: bytes must be a non-negative integer, got -1');
  assert.throws(() => plan.alloc(1.5), (e: Error) => e.message === 'MemoryPlan.alloc: bytes must be a non-negative integer, got 1.5');
  assert.throws(() => plan.alloc(8, 48), (e: Error) => e.message === 'MemoryPlan.alloc: align must be a power of two, got 48');
  assert.throws(() => plan.alloc(8, 0), (e: Error) => e.message === 'MemoryPlan.alloc: align must be a power of two, got 0');
  assert.throws(() => new MemoryPlan(-1), (e: Error) => e instanceof RangeError && e.message === 'MemoryPlan: heapBase must be an integer from 0 to 4294967296, got -1');
});

Plan.run();
