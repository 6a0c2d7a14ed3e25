// Baseline for bench:compare: the `ws` library on the same Node, as an echo or broadcast server.
//   node bench/servers/ws-server.ts <echo|broadcast> <port>
// echo: every message goes back to its sender with the same data kind. broadcast: every message
// goes to every client, the sender included, with the same data kind (what apps/broadcast does).
// Prints "listening <port>" once it accepts connections; exits on SIGTERM/SIGINT.
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

const mode = process.argv[2];
const port = Number(process.argv[3]);
// A third argument "deflate": perMessageDeflate on, with ws's defaults (threshold 1024 bytes,
// context takeover unless the client asks otherwise).
const deflate = process.argv[4] === 'deflate';
if ((mode !== 'echo' && mode !== 'broadcast') || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node bench/servers/ws-server.ts <echo|broadcast> <port>\n');
  process.exit(2);
}

// A plain ws server with its defaults (no permessage-deflate unless asked, client tracking on).
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: deflate });

wss.on('connection', (ws: WebSocket) => {
  ws.on('error', () => {});
  if (mode === 'echo') {
    ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  } else {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      for (const client of wss.clients) client.send(data, { binary: isBinary });
    });
  }
});
wss.on('listening', () => process.stdout.write(`listening ${port}\n`));
wss.on('error', (err) => {
  process.stderr.write(`ws-server: ${err.message}\n`);
  process.exit(1);
});
const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
