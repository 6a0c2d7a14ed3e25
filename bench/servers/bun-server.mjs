// Bun's built-in WebSocket server (uWebSockets inside) for bench:compare, run by the bun binary:
//   bun bench/servers/bun-server.mjs <echo|broadcast> <port>
// echo: every message goes back to its sender; broadcast: every message goes to every client, the
// sender included (server.publish, unlike ws.publish, does not skip the sender), with the same
// data kind. Prints "listening <port>" once it accepts connections.
/* global Bun */
const mode = process.argv[2];
const port = Number(process.argv[3]);
// A third argument "deflate": permessage-deflate on, with Bun's defaults for it.
const deflate = process.argv[4] === 'deflate';
// Bun compresses only what send/publish are told to: messages from this size on, the threshold of
// ws and of RingSocket's permessage_deflate: true.
const COMPRESS_THRESHOLD = 1024;
const compress = (message) => deflate && message.length >= COMPRESS_THRESHOLD;
if ((mode !== 'echo' && mode !== 'broadcast') || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: bun bench/servers/bun-server.mjs <echo|broadcast> <port>\n');
  process.exit(2);
}

const TOPIC = 'all';
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response('WebSocket only', { status: 426 });
  },
  websocket: {
    perMessageDeflate: deflate,
    // Idle connections are held for the memory scenario: no idle timeout.
    idleTimeout: 0,
    maxPayloadLength: 16 * 1024 * 1024,
    open(ws) {
      if (mode === 'broadcast') ws.subscribe(TOPIC);
    },
    message(ws, message) {
      if (mode === 'echo') ws.send(message, compress(message));
      else server.publish(TOPIC, message, compress(message));
    },
  },
});
process.stdout.write(`listening ${server.port}\n`);
const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
