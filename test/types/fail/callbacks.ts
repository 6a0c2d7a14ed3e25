// Must NOT compile: helpers used where the original does not allow them, and bad return values.
// Each marked line must be a compile error, and nothing else may be.
import { defineApp, readBin, readAny, timerWake, bytes, RS_BIN } from '../../../src/app/index.ts';

const read = readAny([bytes()], () => 0);

timerWake((rs) => { rs.toCur(RS_BIN); return 0; }, 10); // @error TS2339: no current client in a timer
timerWake((rs) => rs.clientId(), 10); // @error TS2339: no client id in a timer
defineApp({ read, close: (rs) => rs.toCur(RS_BIN) }); // @error TS2339: the closed client cannot be sent to
defineApp({ read, close: (rs) => rs.toEveryExceptCur(RS_BIN) }); // @error TS2551: no "cur" in close
defineApp({ read, close: (rs) => rs.clientAddr() }); // @error TS2551: no address in close
defineApp({ read, open: (rs) => rs.readDataKind() }); // @error TS2339: the data kind is read-only
defineApp({ read, init: (rs) => { rs.wU8(1); } }); // @error TS2339: no writers in init
defineApp({ read, init: (rs) => { rs.toEvery(RS_BIN); } }); // @error TS2339: no senders in init
readBin([], async () => 0); // @error TS2322: callbacks are synchronous
readBin([], () => 'ok'); // @error TS2322: a callback returns a number
readBin([], (rs) => { rs.toCur(2); }); // @error TS2345: a data kind is RS_BIN or RS_UTF8
readBin([], (rs) => { rs.toSingle(RS_BIN, 'abc'); }); // @error TS2345: a client id is a number or bigint
readBin([], (rs) => { rs.wU64Hton('1'); }); // @error TS2345: u64 writers take bigint or number
defineApp({ open: () => 0 }); // @error TS2345: read is required
defineApp({ read, onRead: () => 0 }); // @error TS2561: unknown keys are rejected
defineApp({ read, timer: () => 0 }); // @error TS2322: a timer is timerSleep() or timerWake()
