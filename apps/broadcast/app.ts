// broadcast: every message goes to every client of the app, the sender included, with the same
// data kind.
import { defineApp, readAny, bytes } from '../../src/app/index.ts';

export default defineApp({
  read: readAny([bytes()], (rs, data) => {
    rs.wBytes(data).toEvery(rs.readDataKind());
  }),
});
