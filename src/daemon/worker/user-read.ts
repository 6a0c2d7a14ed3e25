// Socket reads straight into a buffer of ours (the worker's read scratch in the shared memory)
// instead of a new Buffer per read pushed through the Readable stream.
//
// Node offers this as the `onread` option of `net.Socket` ({ buffer, callback }), but only for
// sockets it constructs for the caller (net.connect); a server's accepted sockets are constructed
// inside `net.Server`. The option is stored on the socket under three symbols and switched on in
// the socket's handle with `useUserBuffer`; `installUserRead` does the same to an accepted socket.
// The buffer and callback symbols are found on a probe socket built with the public option, by
// value; the third (the buffer generator, null for a plain buffer) by its description, kBufferGen.
// When the probe does not find exactly these (another Node), `userReadHook()` returns null and the
// worker reads through 'data' events as before.
//
// What Node does with it (lib/internal/stream_base_commons.js, onStreamRead): every read lands in
// the buffer and the callback gets (bytesRead, buffer) with the socket as `this`, before the next
// read; the bytes must be used (or copied) before it returns. pause() and resume() stop and
// restart reading (lib/net.js checks for the buffer), and end of stream still emits 'end'.
import net from 'node:net';

export type UserReadCallback = (this: net.Socket, bytesRead: number, buffer: Uint8Array) => void;

/** Makes `socket` read into `buffer` and call `callback` per read; see above. */
export type InstallUserRead = (socket: net.Socket, buffer: Uint8Array, callback: UserReadCallback) => void;

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

let cached: InstallUserRead | null | undefined;

/** The installer, or null when this Node does not keep the `onread` option as expected. */
export function userReadHook(): InstallUserRead | null {
  if (cached !== undefined) return cached;
  cached = probe();
  return cached;
}

function probe(): InstallUserRead | null {
  const buffer = new Uint8Array(1);
  const callback = (): boolean => true;
  let s: net.Socket;
  try {
    s = new net.Socket({ onread: { buffer, callback } });
  } catch {
    return null;
  }
  const own = s as unknown as Record<symbol, unknown>;
  const symbols = Object.getOwnPropertySymbols(s);
  const kBuffer = symbols.filter((k) => own[k] === buffer);
  const kCallback = symbols.filter((k) => own[k] === callback);
  // The generator slot: null when the buffer is not a function (lib/net.js).
  const kGen = symbols.filter((k) => k.description === 'kBufferGen' && own[k] === null);
  s.destroy();
  if (kBuffer.length !== 1 || kCallback.length !== 1 || kGen.length !== 1) return null;
  const [kb, kc, kg] = [kBuffer[0], kCallback[0], kGen[0]];
  return (socket, buf, cb) => {
    const handle = (socket as unknown as { _handle: Partial<UserBufferHandle> | null })._handle;
    if (!handle || typeof handle.useUserBuffer !== 'function') throw new Error('socket has no stream handle');
    // The handle first: if it refuses, the socket is left as it was (reads into Buffers).
    handle.useUserBuffer(buf);
    const o = socket as unknown as Record<symbol, unknown>;
    o[kb] = buf;
    o[kc] = cb;
    o[kg] = null;
  };
}
