// Must compile: the typed client's values are typed by their schema (encode, encodeCase, send),
// decode gives the schema's types with owned arrays, and any platform WebSocket plugs in.
import WsWebSocket from 'ws';
import {
  encode, encodeCase, decode, encodeMessage, defineMessage, connect, net, ntoh, str, bytes,
  type Client, type CloseInfo, type CloseName, type Incoming, type WebSocketConstructor, type Values, type Decoded,
} from '../../../src/client/index.ts';
import { readBin, readSwitch, caseUtf8 } from '../../../src/app/index.ts';
import { calcRequest, calcSum } from '../../../apps/silly-calc/protocol.ts';
import { say, whisper, list } from '../../../apps/chat/protocol.ts';

/** true when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function is<_T extends true>(): void {}

// Scalars: number, and bigint for the 64-bit integers.
const all = encode([net.u8, ntoh.u16, net.u32, ntoh.u64, net.i8, ntoh.i16, net.i32, ntoh.i64, net.f32, ntoh.f64], 1, 2, 3, 4n, -5, -6, -7, -8n, 0.5, 1e300);
is<Equal<typeof all, Uint8Array<ArrayBuffer>>>();

// Arrays: the typed array of the element type, or a plain array.
encode([ntoh.u16.array(2), ntoh.i32.between(0, 4)], new Uint16Array(2), [1, -2]);
encode([ntoh.u16.array(2), ntoh.i64.between(0, 4)], [1, 2], new BigInt64Array(1));
encode([ntoh.u64.array(1), bytes()], [1n], new Uint8Array(3));
encode([net.f32.between(0, 3).copy()], new Float32Array(3));
encode([bytes(0, 8)], [1, 2, 3]);
encode([str(1, 32)], 'hi');
encode([]);
encodeCase(3, [ntoh.u64, str()], 9n, 'x');

// A protocol schema declared once, used by the app and the page alike.
const request = [ntoh.i32, ntoh.u16.between(1, 10)] as const;
readBin(request, (_rs, i32, u16s) => { is<Equal<[typeof i32, typeof u16s], [number, Uint16Array]>>(); });
encode(request, -5, [1, 2, 3]);
is<Equal<Values<typeof request>, [number, Uint16Array | readonly number[]]>>();

// decode: the values in schema order, arrays owned (ArrayBuffer-backed).
const [sum] = decode(calcSum, new Uint8Array(8));
is<Equal<typeof sum, bigint>>();
const d = decode([ntoh.u8, net.u64.array(2), ntoh.u16.between(0, 3)], new ArrayBuffer(0));
is<Equal<typeof d, [number, BigUint64Array<ArrayBuffer>, Uint16Array<ArrayBuffer>]>>();
const [text] = decode([str()], 'text message');
is<Equal<typeof text, string>>();
is<Equal<Decoded<readonly [ReturnType<typeof bytes>]>, [Uint8Array<ArrayBuffer>]>>();

// Message forms: send and encodeMessage are typed by the form's schema; text forms encode to a string.
const m1 = encodeMessage(say, 'hi');
is<Equal<typeof m1, string>>();
const m2 = encodeMessage(whisper, 9n, 'psst');
is<Equal<typeof m2, Uint8Array<ArrayBuffer>>>();
is<Equal<typeof say.case, 0>>();
readSwitch({ [say.case]: caseUtf8(say.schema, (_rs, text) => { is<Equal<typeof text, string>>(); }) });
const rename = defineMessage({ kind: 'text', case: 1, schema: [str(1, 32)] });
is<Equal<typeof rename.kind, 'text'>>();

async function page(): Promise<void> {
  const client: Client = await connect('ws://localhost:8080/chat');
  client.send(say, 'hello');
  client.send(whisper, 9n, 'psst');
  client.send(list);
  client.send(calcRequest, -5, new Uint16Array([1, 2]));
  const m: Incoming = await client.receive();
  if (typeof m !== 'string') { const [v] = decode(calcSum, m); is<Equal<typeof v, bigint>>(); }
  for await (const x of client) is<Equal<typeof x, string | Uint8Array<ArrayBuffer>>>();
  const info: CloseInfo = await client.closed;
  const name: CloseName | undefined = info.name;
  if (name === 'WRONG_SIZE' || name === 'WRONG_DATA_KIND' || name === 'UNKNOWN_CASE') client.close();
  await connect(new URL('ws://localhost/x'), { onMessage: (data) => { is<Equal<typeof data, Incoming>>(); }, signal: AbortSignal.timeout(1000) });
}
void page;

// The platform's WebSocket and ws's both fit.
const platform: WebSocketConstructor = WebSocket;
const fromWs: WebSocketConstructor = WsWebSocket;
void connect('ws://x', { WebSocket: fromWs ?? platform });
