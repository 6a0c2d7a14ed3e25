// Structural properties of the release binaries (STYLE.md §4.2): one module is instantiated in
// every thread over one shared memory, so it must have no start function, no mutable global, no
// allocator or runtime export, no import but env.memory, and no static data that code writes to.
// We parse the binaries ourselves (a small section and instruction reader below) and assert
// properties, not the full text (which churns with every Binaryen release).
//
// What the data-segment check covers:
//   1. Every data segment is active, lies below heapBase, and is in ALLOWED_SEGMENTS (listed by
//      name, size and content hash: a new or changed table must be added there on purpose).
//   2. No instruction that writes memory (stores, atomic stores and read-modify-writes, SIMD
//      stores, memory.fill/copy/init) has a constant offset immediate inside a segment or at or
//      above the lowest segment's address (loads fold `TABLE - base` into their offset, e.g.
//      offset=896 for a 128-entry table at 1024 indexed by bytes 0x80..0xFF; a write with such an
//      offset could land in a table). There is no memory.init or data.drop.
//   3. Every `i32.const` whose value lies inside a segment (a reference to a table) is followed
//      through the operand stack and the locals to the end of its function, reading structured
//      control flow in straight-line order: through add/sub/mul/and/or/xor/shl, select,
//      local.tee/set/get, block/if/else/end. Used as the address of a load: fine. Used as the
//      address of a write: failure. A tainted value passed to a call, returned, carried by a
//      branch or consumed by an instruction the checker does not model is "unresolved"; the test
//      requires zero of those, so a table use the checker cannot follow fails loudly instead of
//      passing silently. (Straight-line order is not sound for a loop that stores through a
//      local tainted later in its body; AssemblyScript table lookups are `const + index -> load`.)
// It does not prove that no host-given pointer aliases a table: the host never hands out an address
// below heapBase (MemoryPlan starts there, Ring.init refuses it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { CORE_EXPORTS, compileCore, readHeapBase, wasmPath } from '../src/core/wasm.ts';

/** The read-only tables the core may carry, by size and sha256 (first 16 hex digits). */
const ALLOWED_SEGMENTS: { name: string; bytes: number; sha256: string }[] = [
  { name: 'assembly/codec/utf8.ts LEAD_STATE (UTF-8 lead byte -> state, 128 entries for 0x80..0xFF)', bytes: 128, sha256: '60e7caad9a7cee00' },
  { name: 'assembly/codec/utf8.ts CONT_RULE (UTF-8 second-byte ranges)', bytes: 32, sha256: '756c3f798cb8051a' },
];

const FORBIDDEN_EXPORTS = ['__new', '__alloc', '__pin', '__unpin', '__collect', '__rtti_base', '__renew', '__retain', '__release', '__reset', 'memory', '__heap_base', '__data_end', '__stack_pointer', '_start', '_initialize'];

// ---- binary reader ----
class Reader {
  p: number;
  readonly b: Uint8Array;
  readonly end: number;
  constructor(b: Uint8Array, p = 0, end = b.length) { this.b = b; this.p = p; this.end = end; }
  byte(): number {
    if (this.p >= this.end) throw new Error(`read past the end at ${this.p}`);
    return this.b[this.p++];
  }
  u32(): number {
    let r = 0, s = 0, b: number;
    do { b = this.byte(); r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80);
    return r;
  }
  s32(): number {
    let r = 0, s = 0, b: number;
    do { b = this.byte(); r |= (b & 0x7f) << s; s += 7; } while (b & 0x80 && s < 35);
    if (s < 32 && b & 0x40) r |= -1 << s;
    return r;
  }
  sleb(): void { while (this.byte() & 0x80); }
  skip(n: number): void { this.p += n; }
  name(): string { const n = this.u32(); const s = new TextDecoder().decode(this.b.subarray(this.p, this.p + n)); this.p += n; return s; }
}

interface Parsed {
  sections: number[];
  imports: { module: string; name: string; kind: number; shared?: boolean }[];
  exports: { name: string; kind: number }[];
  globals: { mutable: boolean }[];
  start: boolean;
  data: { offset: number; bytes: Uint8Array; active: boolean }[];
  types: { params: number; results: number }[];
  funcTypes: number[];
  codes: { start: number; end: number }[];
}

function parse(b: Uint8Array): Parsed {
  const out: Parsed = { sections: [], imports: [], exports: [], globals: [], start: false, data: [], types: [], funcTypes: [], codes: [] };
  const r = new Reader(b, 8);
  while (r.p < b.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.p + size;
    const s = new Reader(b, r.p, end);
    out.sections.push(id);
    if (id === 1) {
      for (let n = s.u32(); n > 0; n--) {
        assert.is(s.byte(), 0x60);
        const params = s.u32(); s.skip(params);
        const results = s.u32(); s.skip(results);
        out.types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = s.u32(); n > 0; n--) {
        const module = s.name(), name = s.name(), kind = s.byte();
        if (kind === 0) { out.funcTypes.push(s.u32()); out.imports.push({ module, name, kind }); }
        else if (kind === 2) { const flags = s.byte(); s.u32(); if (flags & 1) s.u32(); out.imports.push({ module, name, kind, shared: (flags & 2) !== 0 }); }
        else { out.imports.push({ module, name, kind }); break; }
      }
    } else if (id === 3) {
      for (let n = s.u32(); n > 0; n--) out.funcTypes.push(s.u32());
    } else if (id === 6) {
      for (let n = s.u32(); n > 0; n--) {
        s.byte();
        out.globals.push({ mutable: s.byte() === 1 });
        while (s.byte() !== 0x0b); // constant init expression (no nested 0x0b in i32/i64.const of small values is not guaranteed; fine for a count)
      }
    } else if (id === 7) {
      for (let n = s.u32(); n > 0; n--) { const name = s.name(); const kind = s.byte(); s.u32(); out.exports.push({ name, kind }); }
    } else if (id === 8) {
      out.start = true;
    } else if (id === 10) {
      for (let n = s.u32(); n > 0; n--) { const len = s.u32(); out.codes.push({ start: s.p, end: s.p + len }); s.skip(len); }
    } else if (id === 11) {
      for (let n = s.u32(); n > 0; n--) {
        const flags = s.u32();
        if (flags === 0) {
          assert.is(s.byte(), 0x41, 'segment offset is an i32.const');
          const offset = s.s32() >>> 0;
          assert.is(s.byte(), 0x0b);
          const len = s.u32();
          out.data.push({ offset, bytes: b.slice(s.p, s.p + len), active: true });
          s.skip(len);
        } else {
          if (flags === 2) { s.u32(); while (s.byte() !== 0x0b); }
          const len = s.u32();
          out.data.push({ offset: -1, bytes: b.slice(s.p, s.p + len), active: false });
          s.skip(len);
        }
      }
    }
    r.p = end;
  }
  return out;
}

// ---- instruction walk ----
type Effect = { pop: number; push: number; kind?: 'load' | 'write' | 'arith' | 'stop' };
const isLoad = (op: number) => op >= 0x28 && op <= 0x35;
const isStore = (op: number) => op >= 0x36 && op <= 0x3e;
const ARITH = new Set([0x6a, 0x6b, 0x6c, 0x71, 0x72, 0x73, 0x74]); // i32 add sub mul and or xor shl

function effect(op: number, sub: number): Effect {
  if (op === 0xfd) {
    if (sub <= 10 || sub === 92 || sub === 93) return { pop: 1, push: 1, kind: 'load' };
    if (sub === 11) return { pop: 2, push: 0, kind: 'write' };
    if (sub >= 84 && sub <= 87) return { pop: 2, push: 1, kind: 'load' };
    if (sub >= 88 && sub <= 91) return { pop: 2, push: 0, kind: 'write' };
    if (sub === 12) return { pop: 0, push: 1 };
    if (sub === 15 || sub === 16 || sub === 17) return { pop: 1, push: 1 }; // splats
    if (sub === 0x64 || sub === 0x84 || sub === 0xa4 || sub === 0xc4) return { pop: 1, push: 1 }; // bitmask
    if (sub === 0x4d) return { pop: 1, push: 1 }; // v128.not
    if (sub >= 0x4e && sub <= 0x51) return { pop: 2, push: 1 }; // and andnot or xor
    return { pop: 0, push: 0, kind: 'stop' };
  }
  if (op === 0xfe) {
    if (sub === 0) return { pop: 2, push: 1, kind: 'load' }; // notify writes nothing
    if (sub === 1 || sub === 2) return { pop: 3, push: 1, kind: 'load' };
    if (sub >= 0x10 && sub <= 0x16) return { pop: 1, push: 1, kind: 'load' };
    if (sub >= 0x17 && sub <= 0x1d) return { pop: 2, push: 0, kind: 'write' };
    if (sub >= 0x1e && sub <= 0x47) return { pop: 2, push: 1, kind: 'write' };
    if (sub >= 0x48 && sub <= 0x4e) return { pop: 3, push: 1, kind: 'write' };
    return { pop: 0, push: 0, kind: 'stop' };
  }
  if (op === 0xfc) {
    if (sub === 8 || sub === 10 || sub === 11) return { pop: 3, push: 0, kind: 'write' }; // init copy fill: destination first
    return { pop: 0, push: 0, kind: 'stop' };
  }
  if (isLoad(op)) return { pop: 1, push: 1, kind: 'load' };
  if (isStore(op)) return { pop: 2, push: 0, kind: 'write' };
  if (op === 0x20 || op === 0x23 || (op >= 0x41 && op <= 0x44) || op === 0x3f) return { pop: 0, push: 1 };
  if (op === 0x21 || op === 0x24 || op === 0x1a) return { pop: 1, push: 0 };
  if (op === 0x22) return { pop: 1, push: 1 };
  if (op === 0x1b) return { pop: 3, push: 1, kind: 'arith' };
  if (op === 0x45 || op === 0x50 || (op >= 0x67 && op <= 0x69) || (op >= 0x79 && op <= 0x7b) || (op >= 0x8b && op <= 0x91) || (op >= 0x99 && op <= 0x9f) || (op >= 0xa7 && op <= 0xc4)) return { pop: 1, push: 1 };
  if ((op >= 0x46 && op <= 0x66) || (op >= 0x6a && op <= 0x78) || (op >= 0x7c && op <= 0x8a) || (op >= 0x92 && op <= 0x98) || (op >= 0xa0 && op <= 0xa6)) {
    return { pop: 2, push: 1, kind: ARITH.has(op) ? 'arith' : undefined };
  }
  return { pop: 0, push: 0, kind: 'stop' };
}

interface Insn { op: number; sub: number; offset?: number; imm?: number; at: number }

/** Decodes one function body into instructions (immediates skipped, memarg offsets kept). */
function decode(b: Uint8Array, start: number, end: number): Insn[] {
  const r = new Reader(b, start, end);
  for (let groups = r.u32(); groups > 0; groups--) { r.u32(); r.byte(); }
  const out: Insn[] = [];
  const memarg = (i: Insn) => { const align = r.u32(); if (align & 0x40) r.u32(); i.offset = r.u32(); };
  while (r.p < end) {
    const at = r.p;
    const op = r.byte();
    const i: Insn = { op, sub: -1, at };
    if (op === 0x02 || op === 0x03 || op === 0x04) { const t = r.b[r.p]; if (t === 0x40 || (t >= 0x6f && t <= 0x7f)) r.byte(); else r.sleb(); }
    else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || (op >= 0x20 && op <= 0x26) || op === 0xd2) i.imm = r.u32();
    else if (op === 0x0e) { for (let n = r.u32() + 1; n > 0; n--) r.u32(); }
    else if (op === 0x11 || op === 0x13) { r.u32(); r.u32(); }
    else if (op === 0x1c) { for (let n = r.u32(); n > 0; n--) r.byte(); }
    else if (op >= 0x28 && op <= 0x3e) memarg(i);
    else if (op === 0x3f || op === 0x40) r.byte();
    else if (op === 0x41) i.imm = r.s32() >>> 0;
    else if (op === 0x42) r.sleb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xd0) r.byte();
    else if (op === 0xfc) {
      i.sub = r.u32();
      if (i.sub === 8) { r.u32(); r.byte(); } else if (i.sub === 9 || i.sub === 13 || (i.sub >= 15 && i.sub <= 17)) r.u32();
      else if (i.sub === 10) { r.byte(); r.byte(); } else if (i.sub === 11) r.byte(); else if (i.sub === 12 || i.sub === 14) { r.u32(); r.u32(); }
    } else if (op === 0xfd) {
      i.sub = r.u32();
      const s = i.sub;
      if (s <= 11 || s === 92 || s === 93) memarg(i);
      else if (s === 12 || s === 13) r.skip(16);
      else if (s >= 21 && s <= 34) r.byte();
      else if (s >= 84 && s <= 91) { memarg(i); r.byte(); }
    } else if (op === 0xfe) {
      i.sub = r.u32();
      if (i.sub === 3) r.byte(); else memarg(i);
    }
    out.push(i);
  }
  return out;
}

function writes(i: Insn): boolean {
  return effect(i.op, i.sub).kind === 'write';
}

interface RefResult { loads: number; writes: string[]; unresolved: string[] }

/** Follows each table reference (an i32.const inside a segment) to the instruction that uses it. */
function followReferences(body: Insn[], inSegment: (v: number) => boolean, fn: number, callEffect: (i: Insn) => Effect): RefResult {
  const res: RefResult = { loads: 0, writes: [], unresolved: [] };
  body.forEach((c, k) => {
    if (c.op !== 0x41 || !inSegment(c.imm!)) return;
    // Stack of taint flags above the reference's slot: we track only the values pushed after it.
    let stack: boolean[] = [true];
    const taintedLocals = new Set<number>();
    for (let j = k + 1; j < body.length; j++) {
      const i = body[j];
      // Structured control is read in straight-line order: block/loop/else/end keep the stack,
      // if/br_if/br_table consume a condition; a tainted value leaving by br/return is unresolved.
      if (i.op === 0x01 || i.op === 0x02 || i.op === 0x03 || i.op === 0x05 || i.op === 0x0b) continue;
      if (i.op === 0x04 || i.op === 0x0d || i.op === 0x0e) { stack.pop(); continue; }
      if (i.op === 0x00 || i.op === 0x0c || i.op === 0x0f || i.op === 0x11 || i.op === 0x12 || i.op === 0x13) {
        if (stack.includes(true)) { res.unresolved.push(`func ${fn} @${c.at}: leaves by op 0x${i.op.toString(16)} at @${i.at}`); return; }
        stack = [];
        continue;
      }
      const e = i.op === 0x10 ? callEffect(i) : effect(i.op, i.sub);
      if (e.kind === 'stop' || i.op === 0x10) {
        if (stack.slice(-e.pop).includes(true) || e.kind === 'stop') {
          if (stack.includes(true) || taintedLocals.size) res.unresolved.push(`func ${fn} @${c.at}: reaches op 0x${i.op.toString(16)}/${i.sub}`);
          return;
        }
      }
      // Operands below the tracked values were pushed before the reference: not derived from it.
      const take = Math.min(e.pop, stack.length);
      const popped = [...Array<boolean>(e.pop - take).fill(false), ...stack.splice(stack.length - take, take)];
      if (e.kind === 'load' && popped[0]) res.loads++;
      if (e.kind === 'write' && popped[0]) { res.writes.push(`func ${fn} @${c.at}: the table address reaches a write at @${i.at}`); return; }
      let out = false;
      if (i.op === 0x20 && taintedLocals.has(i.imm!)) out = true;
      if ((i.op === 0x21 || i.op === 0x22)) { if (popped[0]) taintedLocals.add(i.imm!); else taintedLocals.delete(i.imm!); }
      if (i.op === 0x22 && popped[0]) out = true;
      if (e.kind === 'arith') out = i.op === 0x1b ? popped[0] || popped[1] : popped.includes(true);
      for (let n = 0; n < e.push; n++) stack.push(out && n === 0);
      if (!stack.includes(true) && taintedLocals.size === 0) return;
    }
  });
  return res;
}

for (const build of ['shared', 'private'] as const) {
  const Structure = suite(`release binary structure (${build} build)`);
  const bytes = readFileSync(wasmPath(build));
  const m = parse(bytes);

  Structure('has no start function', () => {
    assert.is(m.start, false);
    assert.not.ok(m.sections.includes(8));
  });

  Structure('has no mutable global (nor any global at all)', () => {
    assert.equal(m.globals.filter((g) => g.mutable), []);
    assert.is(m.globals.length, 0);
  });

  Structure('imports only env.memory, shared exactly in the shared build', () => {
    assert.equal(m.imports, [{ module: 'env', name: 'memory', kind: 2, shared: build === 'shared' }]);
  });

  Structure('exports only functions, exactly CORE_EXPORTS, and no allocator or runtime export', () => {
    assert.equal(m.exports.filter((e) => e.kind !== 0), []);
    assert.equal(m.exports.filter((e) => FORBIDDEN_EXPORTS.includes(e.name)), []);
    assert.equal(m.exports.map((e) => e.name).sort(), Object.keys(CORE_EXPORTS).sort());
  });

  Structure('carries only the listed read-only tables, all active and below heapBase', async () => {
    const heapBase = readHeapBase(await compileCore(build), build);
    assert.ok(m.data.every((d) => d.active), 'no passive segments');
    for (const d of m.data) assert.ok(d.offset + d.bytes.length <= heapBase, `segment at ${d.offset} ends below heapBase ${heapBase}`);
    const found = m.data.map((d) => ({ bytes: d.bytes.length, sha256: createHash('sha256').update(d.bytes).digest('hex').slice(0, 16) }));
    const unknown = found.filter((f) => !ALLOWED_SEGMENTS.some((a) => a.bytes === f.bytes && a.sha256 === f.sha256));
    assert.equal(unknown, [], `data segments not in ALLOWED_SEGMENTS (add them there if they are read-only tables): ${JSON.stringify(unknown)}`);
  });

  Structure('no instruction writes into a data segment', () => {
    const ranges = m.data.map((d) => [d.offset, d.offset + d.bytes.length] as const);
    const inSegment = (v: number) => ranges.some(([a, b]) => v >= a && v < b);
    // Loads may fold a table's address into their offset (`i32.load8_u offset=896` for
    // TABLE - 0x80 + byte), so a write with an offset that large could reach a table from a small
    // index: writes keep their constant offsets below the first table (host structs are small).
    const lowestSegment = Math.min(...m.data.map((d) => d.offset), 2 ** 32);
    const importedFuncs = m.imports.filter((i) => i.kind === 0).length;
    const callEffect = (i: Insn): Effect => {
      const t = m.types[m.funcTypes[i.imm!]];
      return { pop: t.params, push: t.results, kind: 'stop' };
    };
    let loads = 0, refs = 0;
    const bad: string[] = [];
    const unresolved: string[] = [];
    m.codes.forEach((c, n) => {
      const body = decode(bytes, c.start, c.end);
      for (const i of body) {
        if (writes(i) && i.offset !== undefined && (inSegment(i.offset) || i.offset >= lowestSegment)) {
          bad.push(`func ${importedFuncs + n}: a write with constant offset ${i.offset} at @${i.at}`);
        }
        if (i.op === 0xfc && (i.sub === 8 || i.sub === 9)) bad.push(`func ${importedFuncs + n}: memory.init/data.drop at @${i.at}`);
        if (i.op === 0x41 && inSegment(i.imm!)) refs++;
      }
      const r = followReferences(body, inSegment, importedFuncs + n, callEffect);
      loads += r.loads;
      bad.push(...r.writes);
      unresolved.push(...r.unresolved);
    });
    assert.equal(bad, [], 'writes into static data');
    assert.equal(unresolved, [], 'table references the checker could not follow to a load');
    if (m.data.length > 0) assert.ok(loads > 0 && refs > 0, `the tables are referenced (${refs} references, ${loads} loads)`);
    if (process.env.DEBUG_STRUCTURE) console.log(`  ${build}: ${m.codes.length} functions, ${refs} table references, ${loads} loads through them`);
  });

  Structure.run();
}

const Checker = suite('release binary structure: the checker itself');

Checker('flags a store through a table address and accepts a load through it', () => {
  const inSeg = (v: number) => v >= 1024 && v < 1056;
  const none = (): Effect => ({ pop: 0, push: 0, kind: 'stop' });
  // i32.const 1030; local.get 0; i32.add; i32.load8_u 0 0; drop; end
  const load = decode(new Uint8Array([0, 0x41, 0x86, 0x08, 0x20, 0, 0x6a, 0x2d, 0, 0, 0x1a, 0x0b]), 0, 12);
  assert.equal(followReferences(load, inSeg, 0, none), { loads: 1, writes: [], unresolved: [] });
  // i32.const 1030; local.tee 1; drop; local.get 1; i32.const 7; i32.store8 0 0; end
  const store = decode(new Uint8Array([0, 0x41, 0x86, 0x08, 0x22, 1, 0x1a, 0x20, 1, 0x41, 7, 0x3a, 0, 0, 0x0b]), 0, 15);
  const r = followReferences(store, inSeg, 0, none);
  assert.is(r.writes.length, 1);
  // local.get 0; i32.const 1030; i32.store 2 0 (the table address is the stored value, not the address): fine
  const value = decode(new Uint8Array([0, 0x20, 0, 0x41, 0x86, 0x08, 0x36, 2, 0, 0x0b]), 0, 10);
  assert.equal(followReferences(value, inSeg, 0, none).writes, []);
});

Checker.run();
