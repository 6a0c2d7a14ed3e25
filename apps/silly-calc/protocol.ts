// silly-calc's protocol: imported by the app (apps/silly-calc/app.ts) and by a page or any other
// client (through ringsocket/client), so that both sides use the one definition.
//
//   const calc = await connect('wss://example.com/silly-calc');
//   calc.send(calcRequest, -5, [1, 2, 3]);               // checked before it is sent
//   for await (const m of calc) {
//     if (typeof m === 'string') console.log(m);          // "笑笑?": our own request was summed
//     else console.log(decode(calcSum, m)[0]);             // another client's sum, a bigint
//   }
import { defineMessage, ntoh } from '../../src/client/index.ts';

/**
 * Client -> app, binary: an int32 and then 1 to 10 uint16, all in network byte order
 * (RS_READ_BIN(silly_calc, RS_NTOH(int32_t), RS_NTOH(uint16_t, 1, 10))).
 */
export const calcRequest = defineMessage({ kind: 'binary', schema: [ntoh.i32, ntoh.u16.between(1, 10)] });

/** App -> every other client, binary: the int64 sum, network byte order. */
export const calcSum = [ntoh.i64] as const;

/** App -> the sender, text: the reply to every request ("笑笑" and the byte 0x3F). */
export const CALC_REPLY = '笑笑?';
