// The codec's constants: assembly/codes.ts and src/core/codes.ts agree, the decoder error table is
// complete and consistent, and the close-code predicate is right at every edge.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readAsConstants } from './helpers/chunking.ts';
import {
  CloseCode, DataFlag, DECODER_ERRORS, DecoderEvent, ErrorCode, FrameSize, Opcode, Role, Utf8State,
  isValidCloseCode,
} from '../src/core/codes.ts';

const TWINS: [string, Record<string, number>][] = [
  ['OPCODE_', Opcode], ['CLOSE_', CloseCode], ['ROLE_', Role], ['EVENT_', DecoderEvent],
  ['DATA_', DataFlag], ['UTF8_', Utf8State], ['ERR_', ErrorCode],
];
// The TS objects that must match the AS side exactly (no extra names on either side).
const EXACT = new Set(['ROLE_', 'EVENT_', 'DATA_', 'UTF8_', 'ERR_']);

const Codes = suite('codes');
const asCodes = readAsConstants(new URL('../assembly/codes.ts', import.meta.url));

Codes('has the same value for every AssemblyScript constant in src/core/codes.ts', () => {
  assert.ok(asCodes.size > 40, `read ${asCodes.size} constants`);
  for (const [name, value] of asCodes) {
    const twin = TWINS.find(([prefix]) => name.startsWith(prefix));
    const obj: Record<string, number> = twin ? twin[1] : FrameSize;
    const key = twin ? name.slice(twin[0].length) : name;
    assert.is(obj[key], value, `${name} = ${value}, TS ${twin ? twin[0] : 'FrameSize.'}${key} = ${obj[key]}`);
  }
});

Codes('has no TypeScript-only roles, events, flags, UTF-8 states, errors or frame sizes', () => {
  for (const [prefix, obj] of TWINS) {
    if (!EXACT.has(prefix)) continue;
    for (const key of Object.keys(obj)) assert.ok(asCodes.has(prefix + key), `${prefix}${key} missing in assembly/codes.ts`);
  }
  for (const key of Object.keys(FrameSize)) assert.ok(asCodes.has(key), `${key} missing in assembly/codes.ts`);
});

Codes('has one decoder error entry per error code, with a stable code and a close code', () => {
  const codes = Object.entries(ErrorCode);
  assert.is(DECODER_ERRORS.length, codes.length);
  const seen = new Set<string>();
  for (const [name, n] of codes) {
    const e = DECODER_ERRORS[n];
    assert.is(e.code, `RS_ERR_${name}`, `entry ${n}`);
    assert.ok(!seen.has(e.code));
    seen.add(e.code);
    assert.ok(e.message.length > 5, `${e.code} has a message`);
    if (n === ErrorCode.NONE) continue;
    assert.ok([CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG].includes(e.closeCode as 1002),
      `${e.code} closes with ${e.closeCode}`);
  }
  assert.ok(Object.isFrozen(DECODER_ERRORS) && Object.isFrozen(DECODER_ERRORS[1]));
});

Codes('maps UTF-8 errors to 1007, limits to 1009 and the rest to 1002', () => {
  const byCode = (c: string) => DECODER_ERRORS.find((e) => e.code === c)!.closeCode;
  for (const c of ['RS_ERR_CLOSE_REASON_UTF8', 'RS_ERR_INVALID_UTF8', 'RS_ERR_TRUNCATED_UTF8']) assert.is(byCode(c), 1007, c);
  for (const c of ['RS_ERR_MESSAGE_TOO_BIG', 'RS_ERR_FRAME_CHAIN_TOO_BIG', 'RS_ERR_TOO_MANY_FRAGMENTS']) assert.is(byCode(c), 1009, c);
  for (const c of ['RS_ERR_RSV_SET', 'RS_ERR_LENGTH_TOP_BIT', 'RS_ERR_INVALID_CLOSE_CODE', 'RS_ERR_CLOSE_PAYLOAD_ONE_BYTE']) assert.is(byCode(c), 1002, c);
});

Codes('accepts close codes 1000-1003, 1007-1014, 3000-4999 and nothing else', () => {
  for (const c of [1000, 1003, 1007, 1014, 3000, 3999, 4000, 4999]) assert.ok(isValidCloseCode(c), `${c}`);
  for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) assert.not.ok(isValidCloseCode(c), `${c}`);
});

Codes.run();
