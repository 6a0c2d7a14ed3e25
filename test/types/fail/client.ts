// Must NOT compile: values that do not fit their schema, for encode, encodeCase, encodeMessage and
// send. Each marked line must be a compile error, and nothing else may be.
import { encode, encodeCase, encodeMessage, decode, net, ntoh, str, bytes, type Client } from '../../../src/client/index.ts';
import { calcRequest, calcSum } from '../../../apps/silly-calc/protocol.ts';
import { say, whisper } from '../../../apps/chat/protocol.ts';

encode([ntoh.u64], 5); // @error TS2345: a u64 takes a bigint
encode([ntoh.u16], 5n); // @error TS2345: a u16 takes a number
encode([net.f64], '1.5'); // @error TS2345: a float takes a number
encode([str()], 5); // @error TS2345: a str() takes a string
encode([ntoh.u16.array(2)], new Uint8Array(2)); // @error TS2345: a u16 array is a Uint16Array, not a Uint8Array
encode([ntoh.i64.between(0, 2)], [1, 2]); // @error TS2322: a 64-bit array holds bigints
encode([bytes()], 'abc'); // @error TS2345: bytes() are bytes
encode([ntoh.i32, str()], 1); // @error TS2554: one value per parameter
encode([ntoh.i32], 1, 2); // @error TS2554: no more values than parameters
encodeCase(1, [ntoh.u8], 'x'); // @error TS2345: encodeCase checks the values too
encodeMessage(whisper, 9, 'psst'); // @error TS2345: the id is a u64
const [sum]: [number] = decode(calcSum, new Uint8Array(8)); // @error TS2322: the sum is a bigint

declare const client: Client;
client.send(calcRequest, 1, ['2']); // @error TS2322: the request's array holds numbers
client.send(say, 5); // @error TS2345: say takes a string
client.send(say); // @error TS2554: say takes its text
