// A pure RFC 6455 frame builder for tests (independent of the core's encoder, so the two can be
// checked against each other). Builds well-formed and deliberately malformed frames.
const te = new TextEncoder();

/** The default masking key for client frames in tests. */
export const TEST_MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** FIN bit (default true). */
  fin?: boolean;
  /** RSV1..3 as a 3-bit value (RSV1 = 4, RSV2 = 2, RSV3 = 1; default 0). */
  rsv?: number;
  /** Masking key, or null for an unmasked frame (default TEST_MASK). */
  mask?: Uint8Array | null;
  /** Force a length form (default: the minimal one). */
  lengthForm?: 7 | 16 | 64;
  /** Declare this length instead of the payload's (a 64-bit value for lengthForm 64). */
  declaredLength?: bigint | number;
}

export function bytes(x: Uint8Array | string | undefined): Uint8Array {
  if (x === undefined) return new Uint8Array(0);
  return typeof x === 'string' ? te.encode(x) : x;
}

export function frame(spec: FrameSpec): Uint8Array {
  const payload = bytes(spec.payload);
  const mask = spec.mask === undefined ? TEST_MASK : spec.mask;
  const declared = BigInt(spec.declaredLength ?? payload.length);
  const form = spec.lengthForm ?? (declared <= 125n ? 7 : declared <= 0xffffn ? 16 : 64);
  const extLen = form === 7 ? 0 : form === 16 ? 2 : 8;
  const out = new Uint8Array(2 + extLen + (mask ? 4 : 0) + payload.length);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  const m = mask ? 0x80 : 0;
  const dv = new DataView(out.buffer);
  if (form === 7) out[1] = m | Number(declared);
  else if (form === 16) { out[1] = m | 126; dv.setUint16(2, Number(declared)); }
  else { out[1] = m | 127; dv.setBigUint64(2, BigInt.asUintN(64, declared)); }
  let p = 2 + extLen;
  if (mask) { out.set(mask, p); p += 4; }
  for (let i = 0; i < payload.length; i++) out[p + i] = mask ? payload[i] ^ mask[i & 3] : payload[i];
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export type Extra = Omit<FrameSpec, 'opcode' | 'payload'>;
export const text = (s: Uint8Array | string, x: Extra = {}) => frame({ opcode: 1, payload: s, ...x });
export const binary = (b: Uint8Array | string, x: Extra = {}) => frame({ opcode: 2, payload: b, ...x });
export const cont = (b: Uint8Array | string, x: Extra = {}) => frame({ opcode: 0, payload: b, ...x });
export const ping = (b: Uint8Array | string = '', x: Extra = {}) => frame({ opcode: 9, payload: b, ...x });
export const pong = (b: Uint8Array | string = '', x: Extra = {}) => frame({ opcode: 10, payload: b, ...x });

/** A close frame body: the code in network order, then the reason. */
export function closeBody(code: number, reason: Uint8Array | string = ''): Uint8Array {
  const r = bytes(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8; out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}
export const close = (code?: number, reason: Uint8Array | string = '', x: Extra = {}) =>
  frame({ opcode: 8, payload: code === undefined ? new Uint8Array(0) : closeBody(code, reason), ...x });

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}
