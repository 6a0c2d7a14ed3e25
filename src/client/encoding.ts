// Values <-> bytes for a read schema, on the page's side: encode() writes what the app's read form
// parses and refuses what it would refuse, decode() reads what an app wrote. Both are the server's
// own CompiledSchema (src/app/schema.ts): there is no second copy of the rules here.
import { CompiledSchema, type Decoded, type Schema, type Values } from '../app/schema.ts';
import { AppErrorCode, RingSocketAppError, RingSocketSchemaError, SchemaErrorCode } from '../app/errors.ts';
import { CloseCode } from '../core/codes.ts';

/**
 * The values of `schema`, in its order, as the bytes of one message. Throws
 * RingSocketSchemaError before anything is sent: RS_SCHEMA_WRONG_SIZE (closeCode 4900) for what
 * the server would refuse (an element count, a string's UTF-8 byte length), RS_SCHEMA_BAD_VALUE
 * for a value with no encoding (a wrong type, an integer out of range, a number for a 64-bit type).
 */
export function encode<const S extends Schema>(schema: S, ...values: Values<S>): Uint8Array<ArrayBuffer> {
  return new CompiledSchema(schema, 'encode').encode(values);
}

/** encode() for a readSwitch case: the case byte (0-255), then the values. */
export function encodeCase<const S extends Schema>(caseByte: number, schema: S, ...values: Values<S>): Uint8Array<ArrayBuffer> {
  return new CompiledSchema(schema, 'encodeCase').encode(values, caseByte);
}

/**
 * The values of a message, in schema order, through the parser the server uses. Arrays are fresh
 * copies the caller owns; a string payload (a text message) is read as its UTF-8 bytes. Throws
 * RingSocketSchemaError RS_SCHEMA_WRONG_SIZE for a payload that does not fit.
 */
export function decode<const S extends Schema>(schema: S, data: Uint8Array | ArrayBuffer | string): Decoded<S> {
  return new CompiledSchema(schema, 'decode', { owned: true }).decode(toBytes(data)) as Decoded<S>;
}

const textEncoder = new TextEncoder();

function toBytes(data: Uint8Array | ArrayBuffer | string): Uint8Array {
  if (typeof data === 'string') return textEncoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new RingSocketSchemaError(SchemaErrorCode.BAD_VALUE, null, 'decode: data must be a Uint8Array, an ArrayBuffer or a string');
}

/** How a message travels: a binary or a text WebSocket message (RS_BIN / RS_UTF8). */
export type MessageKind = 'binary' | 'text';

/**
 * One message a client sends to an app, as the protocol module declares it: the data kind the
 * app's read form wants, the readSwitch case byte (null for readBin / readUtf8 / readAny), and the
 * schema. The app reads it with `readBin(form.schema, ...)` or `[form.case]: caseUtf8(form.schema, ...)`.
 */
export interface MessageForm<S extends Schema = Schema, K extends MessageKind = MessageKind, C extends number | null = number | null> {
  readonly kind: K;
  readonly case: C;
  readonly schema: S;
}

/** The binary and text encodings of a message form: what send() hands to the WebSocket. */
export type Encoded<K extends MessageKind> = K extends 'text' ? string : Uint8Array<ArrayBuffer>;

const KINDS: readonly MessageKind[] = ['binary', 'text'];

function bad(message: string): RingSocketAppError {
  return new RingSocketAppError(AppErrorCode.BAD_DEFINITION, message);
}

/**
 * Declares a message of a protocol: `{ kind: 'binary' | 'text', case?: 0-255, schema }`. Checks
 * the declaration (RS_APP_BAD_DEFINITION) and returns it frozen.
 */
export function defineMessage<const S extends Schema, const K extends MessageKind, const C extends number | null = null>(
  form: { readonly kind: K; readonly case?: C; readonly schema: S },
): MessageForm<S, K, C> {
  if (typeof form !== 'object' || form === null) throw bad('defineMessage: expected { kind, case?, schema }');
  for (const key of Object.keys(form)) {
    if (key !== 'kind' && key !== 'case' && key !== 'schema') throw bad(`defineMessage: unknown key "${key}" (allowed: kind, case, schema)`);
  }
  if (!KINDS.includes(form.kind)) throw bad(`defineMessage: kind must be 'binary' or 'text', got ${JSON.stringify(form.kind)}`);
  const c = form.case ?? null;
  if (c !== null && !(Number.isInteger(c) && c >= 0 && c <= 255)) throw bad(`defineMessage: case must be an integer in 0...255, got ${String(c)}`);
  new CompiledSchema(form.schema, 'defineMessage'); // throws if the schema is not valid
  const defined = Object.freeze({ kind: form.kind, case: c as C, schema: Object.freeze([...form.schema]) as unknown as S });
  // Compiled once here, not on every send (encode keeps no per-call state in a CompiledSchema;
  // the form and its schema are frozen, so the compiled one cannot go stale).
  encoders.set(defined, new CompiledSchema(defined.schema, c === null ? 'encode' : `encode case ${c}`));
  return defined;
}

/** The compiled schema of each form defineMessage made. */
const encoders = new WeakMap<object, CompiledSchema>();

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A message form's values as what the WebSocket sends: a Uint8Array for a binary form, a string
 * for a text form (whose bytes must be UTF-8: otherwise RS_SCHEMA_INVALID_UTF8, closeCode 1007,
 * because the server closes a text message that is not UTF-8 with 1007). Throws like encode().
 */
export function encodeMessage<S extends Schema, K extends MessageKind>(
  form: MessageForm<S, K, number | null>, ...values: Values<S>
): Encoded<K> {
  const compiled = encoders.get(form) ?? new CompiledSchema(form.schema, form.case === null ? 'encode' : `encode case ${form.case}`);
  const bytes = compiled.encode(values, form.case);
  if (form.kind !== 'text') return bytes as Encoded<K>;
  try {
    return utf8.decode(bytes) as Encoded<K>;
  } catch {
    throw new RingSocketSchemaError(SchemaErrorCode.INVALID_UTF8, CloseCode.INVALID_PAYLOAD,
      `${form.case === null ? 'encode' : `encode case ${form.case}`}: a text message must be UTF-8, and these values make bytes that are not`);
  }
}
