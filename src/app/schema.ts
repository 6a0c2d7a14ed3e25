// Read schemas: the typed counterpart of RS_NET / RS_NTOH / RS_STR and their _STA/_VLA/_HEAP forms.
//
// A schema is a tuple of parameters, e.g. [ntoh.i32, ntoh.u16.between(1, 10)]. The callback's
// parameter types are inferred from it (Args<S>), and CompiledSchema turns it into a parser that
// validates a payload completely (size, element counts, UTF-8) before any argument is produced.
// The same CompiledSchema is the typed client's encoder (values -> the bytes this parser accepts,
// refusing what it would refuse) and decoder (its parser, with owned arrays): one copy of the rules.
// This module and its imports must stay browser-safe (test/client.test.ts walks the import graph).
//
// Byte order, exactly as RingSocket defines it:
//   net.*  = RS_NET:  the bytes are taken as they are, i.e. in the HOST's byte order (no swap).
//   ntoh.* = RS_NTOH: the bytes are in network byte order (big-endian) and converted to host order.
// On little-endian hosts (x86, ARM: every platform Node ships for but s390x/ppc64 BE) net.u16 reads
// [0x01, 0x02] as 0x0201 and ntoh.u16 reads it as 0x0102.
import { CloseCode } from '../core/codes.ts';
import { AppErrorCode, RingSocketAppError, RingSocketSchemaError, SchemaErrorCode } from './errors.ts';

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

/** The ScalarName of a typed array argument type (never for anything else). */
type ArrayNameOf<T> = { [N in ScalarName]: T extends ArrayView<N> ? N : never }[ScalarName];

/**
 * What encode() takes for a parameter whose callback argument is T: the same scalar or string,
 * and for an array the typed array of its element type or a plain array (of bigint for 64-bit).
 */
export type ValueIn<T> = T extends number | bigint | string ? T : ArrayView<ArrayNameOf<T>> | readonly ScalarValue<ArrayNameOf<T>>[];
/** What decode() gives for a parameter whose callback argument is T: arrays are always owned copies. */
export type ValueOut<T> = T extends number | bigint | string ? T : ArrayCopy<ArrayNameOf<T>>;
/** The values encode() takes for a schema, in schema order. */
export type Values<S extends readonly Param[]> = {
  -readonly [K in keyof S]: S[K] extends Param<infer T, boolean> ? ValueIn<T> : never;
};
/** What decode() returns for a schema: the values in schema order. */
export type Decoded<S extends readonly Param[]> = {
  -readonly [K in keyof S]: S[K] extends Param<infer T, boolean> ? ValueOut<T> : never;
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
const utf8Encoder = new TextEncoder();
/** A lone surrogate: a JS string with one has no UTF-8 encoding (TextEncoder would write U+FFFD). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether `n` elements (bytes for str) fit a parameter: the one count rule, used by the parser
 * for the variable-length last parameter and by the encoder for every parameter.
 */
function countFits(p: ParamSpec, n: number): boolean {
  return n >= p.min && n <= p.max;
}

/** How a parameter is written in a schema, for messages: ntoh.u16.between(1, 10), str(0, 32) ... */
function describeParam(p: ParamSpec): string {
  switch (p.form) {
    case ParamForm.SCALAR: return `${p.order}.${p.type}`;
    case ParamForm.ARRAY: return `${p.order}.${p.type}.array(${p.min})`;
    case ParamForm.BETWEEN: return `${p.order}.${p.type}.between(${p.min}, ${p.max})`;
    case ParamForm.STR: return `str(${p.min}, ${p.max})`;
  }
}

/** What a scalar of each type accepts, for messages. */
const EXPECTED: Record<ScalarName, string> = {
  u8: 'an integer in 0...255', u16: 'an integer in 0...65535', u32: 'an integer in 0...4294967295',
  i8: 'an integer in -128...127', i16: 'an integer in -32768...32767', i32: 'an integer in -2147483648...2147483647',
  u64: 'a bigint in 0n...18446744073709551615n', i64: 'a bigint in -9223372036854775808n...9223372036854775807n',
  f32: 'a number', f64: 'a number',
};

/** The integer range of the types below 64 bits. */
const INT_RANGES: Partial<Record<ScalarName, readonly [number, number]>> = {
  u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffffffff], i8: [-0x80, 0x7f], i16: [-0x8000, 0x7fff], i32: [-0x80000000, 0x7fffffff],
};

/** Whether `v` is a value of a scalar type: one encoding exists for it, and the parser gives `v` back. */
function scalarFits(type: ScalarName, v: unknown): boolean {
  switch (type) {
    case 'u64': return typeof v === 'bigint' && BigInt.asUintN(64, v) === v;
    case 'i64': return typeof v === 'bigint' && BigInt.asIntN(64, v) === v;
    case 'f32': case 'f64': return typeof v === 'number';
    default: {
      const [lo, hi] = INT_RANGES[type]!;
      return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
    }
  }
}

/** A value as a message shows it. */
function show(v: unknown): string {
  switch (typeof v) {
    case 'bigint': return `${v}n`;
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'string': return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return `an array of ${v.length}`;
      return ArrayBuffer.isView(v) ? `a ${v.constructor.name} of ${(v as Uint8Array).length}` : 'an object';
    default: return typeof v;
  }
}

/** Whether `v` can be read as an array of elements (a plain array or any typed array). */
function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function badValue(message: string): RingSocketSchemaError {
  return new RingSocketSchemaError(SchemaErrorCode.BAD_VALUE, null, message);
}

function wrongSize(message: string): RingSocketSchemaError {
  return new RingSocketSchemaError(SchemaErrorCode.WRONG_SIZE, CloseCode.WRONG_SIZE, message);
}

/** The count of a parameter as a message states it: "1 to 10 elements", "exactly 3 elements". */
function countText(p: ParamSpec): string {
  const unit = p.form === ParamForm.STR ? 'bytes of UTF-8' : 'elements';
  if (p.min === p.max) return `exactly ${p.min} ${unit}`;
  return p.max === Infinity ? `at least ${p.min} ${unit}` : `${p.min} to ${p.max} ${unit}`;
}

export interface CompileOptions {
  /**
   * Deliver every array parameter as an owned copy, as if declared with .copy() (decode(): its
   * results outlive the call). Default false: the app's borrowed views and scratch arrays.
   */
  readonly owned?: boolean;
}

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
  /** Where the schema is used (read, case 3, encode ...): the start of every message. */
  readonly where: string;
  private readonly scratch: (AnyTypedArray | null)[];
  private buffer: ArrayBufferLike | null = null;
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(schema: readonly unknown[], where: string, options: CompileOptions = {}) {
    this.where = where;
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
      const owned = options.owned === true && !spec.copy && (spec.form === ParamForm.ARRAY || spec.form === ParamForm.BETWEEN);
      const use = owned ? makeSpec(spec.form, spec.type, spec.order, spec.min, spec.max, true) : spec;
      if (use.form === ParamForm.BETWEEN || use.form === ParamForm.STR) last = use;
      else fixed += use.size * use.min;
      params.push(use);
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
    const varBytes = this.varBytes(payload.length - start);
    if (varBytes < 0) return CloseCode.WRONG_SIZE;
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

  /**
   * The size rule: the fixed parameters must be present, a variable-length last parameter must
   * hold a whole number of elements that fits its count, and without one nothing may be left over.
   * Returns the bytes of the variable-length part for a payload of `len` bytes (0 without one), or
   * -1 when no payload of this schema has that size.
   */
  varBytes(len: number): number {
    const last = this.last;
    if (last === null) return len === this.fixedSize ? 0 : -1;
    const v = len - this.fixedSize;
    if (v < 0 || v % last.size !== 0 || !countFits(last, v / last.size)) return -1;
    return v;
  }

  /**
   * The decoder: parse() on payload[start...], the server's own path, and the values in schema
   * order. Throws RingSocketSchemaError (RS_SCHEMA_WRONG_SIZE, 4900) for a payload the server would
   * refuse. Arrays are owned copies only if the schema was compiled with { owned: true }.
   */
  decode(payload: Uint8Array, start = 0): unknown[] {
    const code = this.parse(payload, start);
    // Keep no reference to the caller's buffer past the call.
    this.buffer = null;
    this.view = new DataView(new ArrayBuffer(0));
    if (code !== 0) {
      const len = payload.length - start;
      const why = this.varBytes(len) < 0
        ? `${len} bytes do not fit ${this.describe()}, which takes ${this.sizeText()}`
        : `the ${describeParam(this.last!)} part of ${this.describe()} is not valid UTF-8`;
      throw wrongSize(`${this.where}: ${why}`);
    }
    const out = this.args.slice(1);
    this.args.fill(undefined, 1);
    return out;
  }

  /**
   * The encoder: `values`, one per parameter in schema order, as the payload parse() accepts,
   * after the switch case byte `caseByte` if it is not null. Checks what parse() checks (every
   * count and UTF-8 byte length, with the same rule) and what only a sender can get wrong (a
   * value's JS type and range), and throws RingSocketSchemaError: RS_SCHEMA_WRONG_SIZE (4900) for
   * values the server would refuse, RS_SCHEMA_BAD_VALUE for values that have no encoding.
   */
  encode(values: readonly unknown[], caseByte: number | null = null): Uint8Array<ArrayBuffer> {
    const where = this.where;
    const params = this.params;
    if (!Array.isArray(values) || values.length !== params.length) {
      throw badValue(`${where}: ${this.describe()} takes ${params.length} value${params.length === 1 ? '' : 's'}, got ${Array.isArray(values) ? values.length : show(values)}`);
    }
    if (caseByte !== null && !scalarFits('u8', caseByte)) {
      throw badValue(`${where}: the case byte must be ${EXPECTED.u8}, got ${show(caseByte)}`);
    }
    let size = caseByte === null ? 0 : 1;
    let text: Uint8Array | null = null;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      const v = values[i];
      const label = `${where}: schema[${i}] (${describeParam(p)})`;
      let n = 1;
      if (p.form === ParamForm.SCALAR) {
        if (!scalarFits(p.type, v)) throw badValue(`${label} takes ${EXPECTED[p.type]}, got ${show(v)}`);
      } else if (p.form === ParamForm.STR) {
        if (typeof v !== 'string') throw badValue(`${label} takes a string, got ${show(v)}`);
        const lone = LONE_SURROGATE.exec(v);
        if (lone) throw badValue(`${label}: the string has a lone surrogate at index ${lone.index}, which UTF-8 cannot encode`);
        text = utf8Encoder.encode(v);
        n = text.length;
      } else {
        n = this.checkArray(label, p, v);
      }
      if (!countFits(p, n)) throw wrongSize(`${label} takes ${countText(p)}, got ${n}`);
      size += n * p.size;
    }
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    let at = 0;
    if (caseByte !== null) out[at++] = caseByte;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      const le = p.order === 'ntoh' ? false : HOST_LITTLE_ENDIAN;
      switch (p.form) {
        case ParamForm.SCALAR:
          writeScalar(dv, at, p.type, le, values[i] as number | bigint);
          at += p.size;
          break;
        case ParamForm.STR:
          out.set(text!, at);
          at += text!.length;
          break;
        default:
          at = writeArray(out, dv, at, p, le, values[i] as ArrayLike<number | bigint>);
      }
    }
    return out;
  }

  /** Checks an array value's type and every element; returns its length. */
  private checkArray(label: string, p: ParamSpec, v: unknown): number {
    const typed = `${CTORS[p.type].name} or an array of ${p.type.endsWith('64') && p.type !== 'f64' ? 'bigint' : 'number'}s`;
    if (!isArrayLike(v)) throw badValue(`${label} takes a ${typed}, got ${show(v)}`);
    // A typed array of the parameter's own type holds nothing else.
    if (v instanceof CTORS[p.type]) return v.length;
    for (let k = 0; k < v.length; k++) {
      if (!scalarFits(p.type, v[k])) throw badValue(`${label}: element [${k}] must be ${EXPECTED[p.type]}, got ${show(v[k])}`);
    }
    return v.length;
  }

  /** The schema as written, for messages: [ntoh.i32, ntoh.u16.between(1, 10)]. */
  describe(): string {
    return `[${this.params.map(describeParam).join(', ')}]`;
  }

  /** The payload sizes the schema accepts, for messages: "exactly 8 bytes", "4 bytes and then 1 to 10 elements of 2 bytes". */
  private sizeText(): string {
    const last = this.last;
    if (last === null) return `exactly ${this.fixedSize} bytes`;
    const fixed = this.fixedSize === 0 ? '' : `${this.fixedSize} bytes and then `;
    return `${fixed}${countText(last)}${last.size === 1 ? '' : ` of ${last.size} bytes`}`;
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

function writeScalar(dv: DataView, at: number, type: ScalarName, le: boolean, v: number | bigint): void {
  switch (type) {
    case 'u8': dv.setUint8(at, v as number); break;
    case 'u16': dv.setUint16(at, v as number, le); break;
    case 'u32': dv.setUint32(at, v as number, le); break;
    case 'u64': dv.setBigUint64(at, v as bigint, le); break;
    case 'i8': dv.setInt8(at, v as number); break;
    case 'i16': dv.setInt16(at, v as number, le); break;
    case 'i32': dv.setInt32(at, v as number, le); break;
    case 'i64': dv.setBigInt64(at, v as bigint, le); break;
    case 'f32': dv.setFloat32(at, v as number, le); break;
    case 'f64': dv.setFloat64(at, v as number, le); break;
  }
}

/** Writes a checked array value at `at`; returns the offset after it. */
function writeArray(out: Uint8Array, dv: DataView, at: number, p: ParamSpec, le: boolean, v: ArrayLike<number | bigint>): number {
  const n = v.length;
  const size = p.size;
  // A typed array of the parameter's type already holds host-order bytes: copy them when no swap is needed.
  if (v instanceof CTORS[p.type] && (size === 1 || le === HOST_LITTLE_ENDIAN)) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, n * size), at);
    return at + n * size;
  }
  for (let k = 0; k < n; k++, at += size) writeScalar(dv, at, p.type, le, v[k]);
  return at;
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
