// Read schemas: the typed counterpart of RS_NET / RS_NTOH / RS_STR and their _STA/_VLA/_HEAP forms.
//
// A schema is a tuple of parameters, e.g. [ntoh.i32, ntoh.u16.between(1, 10)]. The callback's
// parameter types are inferred from it (Args<S>), and compileSchema() turns it into a parser that
// validates a payload completely (size, element counts, UTF-8) before any argument is produced.
//
// Byte order, exactly as RingSocket defines it:
//   net.*  = RS_NET:  the bytes are taken as they are, i.e. in the HOST's byte order (no swap).
//   ntoh.* = RS_NTOH: the bytes are in network byte order (big-endian) and converted to host order.
// On little-endian hosts (x86, ARM: every platform Node ships for but s390x/ppc64 BE) net.u16 reads
// [0x01, 0x02] as 0x0201 and ntoh.u16 reads it as 0x0102.
import { CloseCode } from '../core/codes.ts';
import { AppErrorCode, RingSocketAppError } from './errors.ts';

/** true on little-endian hosts: the byte order of typed arrays, of net.* and of the wU16()... writers. */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type ScalarName = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64' | 'f32' | 'f64';
export type ByteOrder = 'net' | 'ntoh';

/** The JS value of one scalar: bigint for the 64-bit integers, number for everything else. */
export type ScalarValue<N extends ScalarName> = N extends 'u64' | 'i64' ? bigint : number;

interface ArrayTypes<B extends ArrayBufferLike> {
  u8: Uint8Array<B>;
  u16: Uint16Array<B>;
  u32: Uint32Array<B>;
  u64: BigUint64Array<B>;
  i8: Int8Array<B>;
  i16: Int16Array<B>;
  i32: Int32Array<B>;
  i64: BigInt64Array<B>;
  f32: Float32Array<B>;
  f64: Float64Array<B>;
}
/** A borrowed array argument: valid only until the callback returns (may view the inbound ring). */
export type ArrayView<N extends ScalarName> = ArrayTypes<ArrayBufferLike>[N];
/** An owned array argument (the .copy() form, RS_*_HEAP): a fresh array the app may keep. */
export type ArrayCopy<N extends ScalarName> = ArrayTypes<ArrayBuffer>[N];

declare const paramValue: unique symbol;
declare const paramVariable: unique symbol;

/** Numeric codes of the parameter forms (the parser switches on them). */
export const ParamForm = { SCALAR: 0, ARRAY: 1, BETWEEN: 2, STR: 3 } as const;
export type ParamForm = (typeof ParamForm)[keyof typeof ParamForm];

/** What the parser needs to know about one parameter. */
export interface ParamSpec {
  readonly form: ParamForm;
  readonly type: ScalarName;
  readonly order: ByteOrder;
  /** Bytes per element (1 for str). */
  readonly size: number;
  /** ARRAY: the element count; BETWEEN: min elements; STR: min bytes; SCALAR: 1. */
  readonly min: number;
  /** ARRAY: the element count; BETWEEN: max elements; STR: max bytes; SCALAR: 1. May be Infinity. */
  readonly max: number;
  /** true for the .copy() form: the argument is a fresh array the app owns. */
  readonly copy: boolean;
}

/**
 * One schema parameter. T is the type the callback receives; Variable is true for the
 * variable-length forms, which may only be the last parameter.
 */
export interface Param<T = unknown, Variable extends boolean = boolean> {
  /** Phantom: the argument type. Never present at run time. */
  readonly [paramValue]?: T;
  /** Phantom: whether this is a variable-length parameter. Never present at run time. */
  readonly [paramVariable]?: Variable;
  readonly spec: ParamSpec;
}

/** An array parameter, borrowed by default; .copy() gives the owned (RS_*_HEAP) form. */
export interface ArrayParam<N extends ScalarName, Variable extends boolean> extends Param<ArrayView<N>, Variable> {
  /** The same parameter, delivered as a fresh array the app owns and may keep (RS_NET_HEAP). */
  copy(): Param<ArrayCopy<N>, Variable>;
}

/** A scalar parameter (RS_NET(type) / RS_NTOH(type)), with its array forms. */
export interface ScalarParam<N extends ScalarName> extends Param<ScalarValue<N>, false> {
  /** Exactly `count` elements: RS_NET(type, count) / RS_NTOH(type, count). */
  array(count: number): ArrayParam<N, false>;
  /** min...max elements, last parameter only: RS_NET(type, min, max) and its _STA/_VLA forms. */
  between(min: number, max: number): ArrayParam<N, true>;
}

export interface ByteOrderParams {
  readonly u8: ScalarParam<'u8'>;
  readonly u16: ScalarParam<'u16'>;
  readonly u32: ScalarParam<'u32'>;
  readonly u64: ScalarParam<'u64'>;
  readonly i8: ScalarParam<'i8'>;
  readonly i16: ScalarParam<'i16'>;
  readonly i32: ScalarParam<'i32'>;
  readonly i64: ScalarParam<'i64'>;
  readonly f32: ScalarParam<'f32'>;
  readonly f64: ScalarParam<'f64'>;
}

/** A parameter that may appear anywhere. */
export type FixedParam = Param<unknown, false>;
/** A read schema: fixed-size parameters, then at most one variable-length one, last. */
export type Schema = readonly [] | readonly [...FixedParam[], Param<unknown, boolean>];
/** The callback arguments a schema produces (after rs). */
export type Args<S extends readonly Param[]> = {
  -readonly [K in keyof S]: S[K] extends Param<infer T, boolean> ? T : never;
};

const SIZES: Record<ScalarName, number> = {
  u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8,
};

type AnyTypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int8Array | Int16Array | Int32Array
  | BigInt64Array | Float32Array | Float64Array;
type TypedArrayCtor = {
  new (length: number): AnyTypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): AnyTypedArray;
};
const CTORS: Record<ScalarName, TypedArrayCtor> = {
  u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, u64: BigUint64Array, i8: Int8Array,
  i16: Int16Array, i32: Int32Array, i64: BigInt64Array, f32: Float32Array, f64: Float64Array,
};

function badDefinition(message: string): RingSocketAppError {
  return new RingSocketAppError(AppErrorCode.BAD_DEFINITION, message);
}

function checkCount(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw badDefinition(`${what} must be an integer >= 0, got ${String(value)}`);
  }
}

function checkRange(what: string, min: number, max: number): void {
  checkCount(`${what}: min`, min);
  if (!(max === Infinity || Number.isSafeInteger(max)) || max < min) {
    throw badDefinition(`${what}: max must be an integer >= min (${min}) or Infinity, got ${String(max)}`);
  }
}

function makeSpec(form: ParamForm, type: ScalarName, order: ByteOrder, min: number, max: number, copy: boolean): ParamSpec {
  return Object.freeze({ form, type, order, size: form === ParamForm.STR ? 1 : SIZES[type], min, max, copy });
}

function makeArrayParam<N extends ScalarName, V extends boolean>(
  type: N, order: ByteOrder, form: ParamForm, min: number, max: number,
): ArrayParam<N, V> {
  return Object.freeze({
    spec: makeSpec(form, type, order, min, max, false),
    copy: () => Object.freeze({ spec: makeSpec(form, type, order, min, max, true) }) as Param<ArrayCopy<N>, V>,
  }) as ArrayParam<N, V>;
}

function makeScalar<N extends ScalarName>(type: N, order: ByteOrder): ScalarParam<N> {
  const name = `${order}.${type}`;
  return Object.freeze({
    spec: makeSpec(ParamForm.SCALAR, type, order, 1, 1, false),
    array(count: number): ArrayParam<N, false> {
      checkCount(`${name}.array(count)`, count);
      return makeArrayParam<N, false>(type, order, ParamForm.ARRAY, count, count);
    },
    between(min: number, max: number): ArrayParam<N, true> {
      checkRange(`${name}.between(min, max)`, min, max);
      return makeArrayParam<N, true>(type, order, ParamForm.BETWEEN, min, max);
    },
  }) as ScalarParam<N>;
}

function makeOrder(order: ByteOrder): ByteOrderParams {
  return Object.freeze({
    u8: makeScalar('u8', order), u16: makeScalar('u16', order), u32: makeScalar('u32', order),
    u64: makeScalar('u64', order), i8: makeScalar('i8', order), i16: makeScalar('i16', order),
    i32: makeScalar('i32', order), i64: makeScalar('i64', order), f32: makeScalar('f32', order),
    f64: makeScalar('f64', order),
  });
}

/** RS_NET: values in the host's byte order, taken as they are (no swap). */
export const net: ByteOrderParams = makeOrder('net');
/** RS_NTOH: values in network byte order (big-endian), converted to host order. */
export const ntoh: ByteOrderParams = makeOrder('ntoh');

/**
 * RS_STR(min, max): a UTF-8 string of min...max BYTES (not characters), last parameter only,
 * delivered as a JS string. Invalid UTF-8 closes the client with 4900, like a wrong size.
 */
export function str(min = 0, max = Infinity): Param<string, true> {
  checkRange('str(min, max)', min, max);
  return Object.freeze({ spec: makeSpec(ParamForm.STR, 'u8', 'net', min, max, false) });
}

/**
 * Raw bytes: min...max bytes, last parameter only (the same as net.u8.between(min, max)). With
 * the defaults it takes the whole rest of the payload.
 */
export function bytes(min = 0, max = Infinity): ArrayParam<'u8', true> {
  checkRange('bytes(min, max)', min, max);
  return makeArrayParam<'u8', true>('u8', 'net', ParamForm.BETWEEN, min, max);
}

function isParam(value: unknown): value is Param {
  const spec = (value as Param | null)?.spec;
  return typeof spec === 'object' && spec !== null && typeof spec.form === 'number' && spec.type in SIZES;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A compiled schema: validates a payload and fills `args` (args[0] is left for rs).
 * One instance per read form or switch case; its scratch arrays are reused across messages, which
 * is why borrowed array arguments are only valid until the callback returns.
 */
export class CompiledSchema {
  readonly params: readonly ParamSpec[];
  /** args[0] = rs (set by the runtime), args[1...] = the parsed parameters. Reused. */
  readonly args: unknown[];
  /** Bytes taken by every parameter but a variable-length last one. */
  readonly fixedSize: number;
  /** The variable-length last parameter, or null. */
  readonly last: ParamSpec | null;
  /** One borrowed bytes() parameter: the payload (or its rest after a switch byte) is passed as is. */
  readonly wholePayload: boolean;
  private readonly scratch: (AnyTypedArray | null)[];
  private buffer: ArrayBufferLike | null = null;
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(schema: readonly unknown[], where: string) {
    if (!Array.isArray(schema)) throw badDefinition(`${where}: the schema must be an array of parameters`);
    const params: ParamSpec[] = [];
    let fixed = 0;
    let last: ParamSpec | null = null;
    schema.forEach((p, i) => {
      if (!isParam(p)) {
        throw badDefinition(`${where}: schema[${i}] is not a parameter (use net.*, ntoh.*, str() or bytes())`);
      }
      const spec = p.spec;
      if (last !== null) {
        throw badDefinition(`${where}: schema[${i - 1}] has a variable length, so it must be the last parameter`);
      }
      if (spec.form === ParamForm.BETWEEN || spec.form === ParamForm.STR) last = spec;
      else fixed += spec.size * spec.min;
      params.push(spec);
    });
    this.params = params;
    this.fixedSize = fixed;
    this.last = last;
    this.args = new Array(params.length + 1).fill(undefined);
    this.scratch = new Array(params.length).fill(null);
    this.wholePayload = params.length === 1 && params[0].form === ParamForm.BETWEEN &&
      params[0].type === 'u8' && !params[0].copy;
  }

  /**
   * Validates payload[start...] against the schema and fills this.args[1...]. Returns 0, or the
   * close code: CloseCode.WRONG_SIZE for a size, count or UTF-8 mismatch.
   */
  parse(payload: Uint8Array, start: number): number {
    const len = payload.length - start;
    const last = this.last;
    let varBytes = 0;
    if (last === null) {
      if (len !== this.fixedSize) return CloseCode.WRONG_SIZE;
    } else {
      varBytes = len - this.fixedSize;
      if (varBytes < 0 || varBytes % last.size !== 0) return CloseCode.WRONG_SIZE;
      const n = varBytes / last.size;
      if (n < last.min || n > last.max) return CloseCode.WRONG_SIZE;
    }
    const args = this.args;
    if (this.wholePayload) {
      args[1] = start === 0 ? payload : payload.subarray(start);
      return 0;
    }
    const buffer = payload.buffer;
    let dv = this.view;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      dv = this.view = new DataView(buffer);
    }
    const params = this.params;
    let at = payload.byteOffset + start;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      switch (p.form) {
        case ParamForm.SCALAR:
          args[i + 1] = readScalar(dv, at, p.type, p.order === 'ntoh' ? false : HOST_LITTLE_ENDIAN);
          at += p.size;
          break;
        case ParamForm.ARRAY:
          args[i + 1] = this.readArray(i, p, buffer, dv, at, p.min);
          at += p.size * p.min;
          break;
        case ParamForm.BETWEEN:
          args[i + 1] = this.readArray(i, p, buffer, dv, at, varBytes / p.size);
          at += varBytes;
          break;
        case ParamForm.STR:
          try {
            args[i + 1] = utf8.decode(new Uint8Array(buffer, at, varBytes));
          } catch {
            return CloseCode.WRONG_SIZE;
          }
          at += varBytes;
          break;
      }
    }
    return 0;
  }

  private readArray(i: number, p: ParamSpec, buffer: ArrayBufferLike, dv: DataView, at: number, n: number): AnyTypedArray {
    const Ctor = CTORS[p.type];
    const size = p.size;
    if (size === 1) {
      const view = new Ctor(buffer, at, n);
      return p.copy ? view.slice() : view;
    }
    const swap = p.order === 'ntoh' && HOST_LITTLE_ENDIAN;
    // Zero copy: a host-order array at an aligned address can be viewed in place.
    if (!swap && !p.copy && at % size === 0) return new Ctor(buffer, at, n);
    let out: AnyTypedArray;
    if (p.copy) {
      out = new Ctor(n);
    } else {
      // The _STA counterpart: one scratch array per parameter, reused across messages.
      let s = this.scratch[i];
      if (s === null || s.length < n) s = this.scratch[i] = new Ctor(Math.max(n, p.form === ParamForm.ARRAY ? n : Math.min(p.max, 64)));
      out = s.length === n ? s : s.subarray(0, n);
    }
    if (!swap && n > 16) {
      new Uint8Array(out.buffer, out.byteOffset, n * size).set(new Uint8Array(buffer, at, n * size));
      return out;
    }
    const le = swap ? false : HOST_LITTLE_ENDIAN;
    for (let k = 0; k < n; k++, at += size) out[k] = readScalar(dv, at, p.type, le) as never;
    return out;
  }
}

function readScalar(dv: DataView, at: number, type: ScalarName, le: boolean): number | bigint {
  switch (type) {
    case 'u8': return dv.getUint8(at);
    case 'u16': return dv.getUint16(at, le);
    case 'u32': return dv.getUint32(at, le);
    case 'u64': return dv.getBigUint64(at, le);
    case 'i8': return dv.getInt8(at);
    case 'i16': return dv.getInt16(at, le);
    case 'i32': return dv.getInt32(at, le);
    case 'i64': return dv.getBigInt64(at, le);
    case 'f32': return dv.getFloat32(at, le);
    case 'f64': return dv.getFloat64(at, le);
  }
}
