// chat: one room. Everyone connected to the app is in it.
//
// Client -> server: the first byte of a message selects the request (RS_READ_SWITCH); the rest is
// the request's parameters. A message that does not fit closes the client: 4900 wrong size,
// 4901 wrong data kind, 4902 unknown request byte.
//
//   byte  request  data kind    rest of the message
//   0     say      text or bin  the message, UTF-8, 1-1000 bytes
//   1     rename   text         the new name, UTF-8, 1-32 bytes, no control characters
//                               (a bad name closes the client with 4001)
//   2     whisper  binary       target client id (u64, network byte order), then the message,
//                               UTF-8, 1-1000 bytes
//   3     list     binary       nothing
//
//   A browser sends "say" as ws.send('\x00' + text), "rename" as ws.send('\x01' + name), and
//   "whisper" as a Uint8Array: [2, 8 id bytes big-endian, ...UTF-8 bytes]. With the typed client
//   (ringsocket/client), a page sends them as client.send(say, text), client.send(whisper, id, text)
//   ...: protocol.ts declares these messages and the events below, for the app and the page alike.
//
// Server -> client: text messages, each one JSON object:
//   {"type":"welcome","id":7,"name":"guest-7"}                      to a new client (open)
//   {"type":"join","id":7,"name":"guest-7"}                         to everyone else (open)
//   {"type":"leave","id":7,"name":"ann"}                            to everyone else (close)
//   {"type":"say","id":7,"name":"ann","text":"hi"}                  to everyone but the sender
//   {"type":"rename","id":7,"old":"guest-7","name":"ann"}           to everyone, the sender too
//   {"type":"whisper","id":7,"name":"ann","text":"psst"}            to the target only
//   {"type":"whispered","to":9}                                     to the sender, once sent
//   {"type":"error","message":"no client 9"}                        to the sender
//   {"type":"list","clients":[{"id":7,"name":"ann"},...]}           to the sender (list), by id
//
// In a cluster (the config's "cluster" key: several daemons, one Redis) the room spans every node.
// The join / say / rename / leave notices reach the clients of every node by themselves (toEvery
// and toEveryExceptCur do), and a whisper reaches its target wherever it is connected (toSingle).
// Only the member list needs sharing, for "list" and for whisper's "no client" check: members.ts
// keeps it in Redis, and each node's instance reads it from a Map fed by Redis pub/sub, so a
// change made on another node can show in "list" a moment after its notice reached the clients.
// Across nodes "whispered" means sent on (delivery between nodes is at most once), and the members
// of a node that crashes drop out of the list within seconds, without a "leave" notice. Without
// "cluster" the room is this node's Map alone and nothing touches Redis.
//
// In a cluster, give each daemon one chat entry. An app cannot learn the name of its entry, so
// the room is always "chat": a second chat entry on the same daemon would keep its members under
// the same node_id, in the same Redis hash. The two would overwrite each other's members there,
// and neither would list the other's.
import {
  defineApp, readSwitch, caseAny, caseUtf8, caseBin, RS_UTF8, type OpenRs, type ReadRs, type TimerRs,
} from '../../src/app/index.ts';
import { say, rename, whisper, list, CLOSE_BAD_NAME, type ChatEvent } from './protocol.ts';
import { createRoom, type Room } from './members.ts';

export { CLOSE_BAD_NAME };

/** Everyone in the room: room.names maps client id -> name. Made again by init. */
let room: Room = createRoom('chat', null);

/** Writes one JSON message; the sender call picks the recipients. */
function json(rs: TimerRs, message: ChatEvent): TimerRs {
  return rs.wStr(JSON.stringify(message));
}

function nameOf(rs: OpenRs): string {
  return room.names.get(rs.clientId()) ?? `guest-${rs.clientId()}`;
}

export default defineApp({
  init: (rs) => {
    room.close();
    // Shared with the other nodes through Redis in a cluster (members.ts); this node's alone without.
    room = createRoom('chat', rs.config().cluster ?? null, (level, message) => rs.log(level, message));
  },

  open: (rs) => {
    const id = rs.clientId();
    const name = `guest-${id}`;
    room.set(id, name);
    json(rs, { type: 'welcome', id, name });
    rs.toCur(RS_UTF8);
    json(rs, { type: 'join', id, name });
    rs.toEveryExceptCur(RS_UTF8);
  },

  read: readSwitch({
    [say.case]: caseAny(say.schema, (rs, text) => {
      json(rs, { type: 'say', id: rs.clientId(), name: nameOf(rs), text });
      rs.toEveryExceptCur(RS_UTF8);
    }),

    [rename.case]: caseUtf8(rename.schema, (rs, name) => {
      // A control character is not a name: close the client with the app's own code.
      if (/[\u0000-\u001f\u007f]/.test(name)) return CLOSE_BAD_NAME;
      const id = rs.clientId();
      const old = nameOf(rs);
      room.set(id, name);
      json(rs, { type: 'rename', id, old, name });
      rs.toEvery(RS_UTF8);
      return 0;
    }),

    [whisper.case]: caseBin(whisper.schema, (rs, target, text) => {
      const to = Number(target);
      if (!room.names.has(to)) return reply(rs, { type: 'error', message: `no client ${target}` });
      json(rs, { type: 'whisper', id: rs.clientId(), name: nameOf(rs), text });
      rs.toSingle(RS_UTF8, to);
      return reply(rs, { type: 'whispered', to });
    }),

    [list.case]: caseBin(list.schema, (rs) => {
      const clients = [...room.names].map(([id, name]) => ({ id, name })).sort((a, b) => a.id - b.id);
      return reply(rs, { type: 'list', clients });
    }),
  }),

  close: (rs) => {
    const id = rs.clientId();
    const name = room.names.get(id) ?? `guest-${id}`;
    room.delete(id);
    // The closed client is gone already: "every" is everyone else.
    json(rs, { type: 'leave', id, name });
    rs.toEvery(RS_UTF8);
  },
});

function reply(rs: ReadRs, message: ChatEvent): number {
  json(rs, message);
  rs.toCur(RS_UTF8);
  return 0;
}
