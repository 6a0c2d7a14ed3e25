// docs/performance.md "permessage-deflate memory": the daemon's RSS per connection with N ws
// clients that each sent one message and got its echo. Usage (Node 24):
//   node scripts/deflate-rss.mjs plain|deflate|deflate-shared|deflate-server-ctx [N=1000] [repeats of a 25-byte phrase=80]
import WebSocket from 'ws';
import { fileURLToPath } from 'node:url';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
const [, , mode, nStr] = process.argv; // mode: plain | deflate | deflate-shared | deflate-server-ctx
const N = Number(nStr ?? 1000);
const port = 20000 + Math.floor(Math.random() * 20000);
const pmd = mode === 'plain' ? false : mode === 'deflate' ? true
  : mode === 'deflate-shared' ? { client_no_context_takeover: true } : { server_no_context_takeover: false, max_contexts: 100000 };
const cfg = { log_level: 'warning', worker_c: 1, fd_alloc_c: N + 100, max_ws_msg_size: 1 << 20, permessage_deflate: pmd,
  ports: [{ port_number: port, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
  apps: [{ name: 'echo', app_path: join(ROOT, 'apps/echo/app.ts'), endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${port}/echo` }] }] };
const dir = mkdtempSync(join(tmpdir(), 'rs-rss-'));
writeFileSync(join(dir, 'c.json'), JSON.stringify(cfg));
const proc = spawn(process.execPath, [join(ROOT, 'bin/ringsocket.mjs'), join(dir, 'c.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
proc.stderr.on('data', (b) => { out += b; });
proc.stdout.on('data', (b) => { out += b; });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))[1]) * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 100; i++) { await sleep(100); try { const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`); await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); }); ws.close(); break; } catch {} }
await sleep(1000);
const msg = 'a message about deflate, '.repeat(Number(process.argv[4] ?? 80));
const warm = [];
async function batch(n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: mode !== 'plain' });
    list.push(new Promise((res, rej) => { ws.on('open', () => { ws.send(msg); }); ws.once('message', () => res(ws)); ws.on('error', rej); }));
    if (i % 100 === 99) await Promise.all(list.slice(-100));
  }
  return Promise.all(list);
}
warm.push(...await batch(100));
await sleep(1500);
const before = rss();
const clients = await batch(N);
await sleep(1500);
const after = rss();
console.log(JSON.stringify({ mode, N, before, after, perConn: Math.round((after - before) / N), ext: clients[0].extensions }));
for (const ws of [...warm, ...clients]) ws.terminate();
proc.kill('SIGTERM');
await new Promise((r) => proc.on('close', r));
