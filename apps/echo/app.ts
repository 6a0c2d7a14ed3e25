// echo: every message goes back to its sender, with the same data kind (text stays text).
// The counterpart of RingSocket's test app rst_app_echo: RS_READ_ANY with one raw-bytes parameter.
// bytes() with no bounds takes the whole payload, which the runtime passes without copying; the
// write copies it into the app's write buffer, and toCur hands it to the sender's worker.
import { defineApp, readAny, bytes } from '../../src/app/index.ts';

export default defineApp({
  read: readAny([bytes()], (rs, data) => {
    rs.wBytes(data).toCur(rs.readDataKind());
  }),
});
