// The Sec-WebSocket-Accept value of the opening handshake: the server sends it (response.ts), a
// client checks it (src/bench/handshake.ts). One computation for both sides.
import { hash } from 'node:crypto';

// RFC 6455 §4.2.2 item 5.4: "A |Sec-WebSocket-Accept| header field. The value of this header field
// is constructed by concatenating /key/, defined above in step 4 in Section 4.2.2, with the string
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this concatenated value to obtain
// a 20-byte value and base64-encoding (see Section 4 of [RFC4648]) this 20-byte hash."
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** base64(SHA-1(key + WEBSOCKET_GUID)), `key` as sent (a string, not base64-decoded). */
export function acceptKey(key: string): string {
  return hash('sha1', key + WEBSOCKET_GUID, 'base64');
}
