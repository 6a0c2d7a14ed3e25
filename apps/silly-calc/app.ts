// silly-calc: the example of RingSocket's README, with exactly its behaviour.
//
// In:  a binary message of an int32 and then 1 to 10 uint16, all in network byte order
//      (RS_READ_BIN(silly_calc, RS_NTOH(int32_t), RS_NTOH(uint16_t, 1, 10))).
//      Anything else closes the client: 4900 for a wrong size, 4901 for a text message.
// Out: the int64 sum, in network byte order, as a binary message to every other client of the app
//      (rs_w_int64_hton + rs_to_every_except_cur(RS_BIN)); then "笑笑?" as a text message to the
//      sender (rs_w_str(u8"笑笑") + rs_w_uint8(0x3F) + rs_to_cur(RS_UTF8)).
// The messages are declared in protocol.ts, which a page imports too (ringsocket/client).
import { defineApp, readBin, RS_BIN, RS_UTF8 } from '../../src/app/index.ts';
import { calcRequest } from './protocol.ts';

export default defineApp({
  read: readBin(calcRequest.schema, (rs, i32, u16s) => {
    // The schema has already checked that 1 <= u16s.length <= 10.
    let sum = i32;
    for (let i = 0; i < u16s.length; i++) sum += u16s[i];
    // Send the sum to every client with a live connection to this app, except the requester.
    rs.wI64Hton(sum).toEveryExceptCur(RS_BIN);
    // Reply to the requester with "笑笑?" ('?' written as a byte, to show that writes chain).
    rs.wStr('笑笑').wU8(0x3f).toCur(RS_UTF8);
    return 0;
  }),
});
