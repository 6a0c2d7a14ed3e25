// npm run attack [-- options]: the daemon's memory under hostile clients that start a big message
// and never finish it. Starts the real daemon (bin/ringsocket.mjs, one worker, apps/echo on /echo,
// default limits plus --config) on a free 127.0.0.1 port, once per attack, and reports its RSS
// (/proc/<pid>/status VmRSS, peak VmHWM) at the idle baseline, during and after the attack.
//
//   --attack big|frag|both  big: each attacker sends the header of one --msg-size binary frame
//                           (masked, FIN, 64-bit length) and --sent-size bytes of its payload;
//                           frag: each sends one binary message as --fragments one-byte frames
//                           (FIN=0, 7 bytes each) without the final fragment. Default: both
//   --clients N             attackers (default: big 60, frag 50)
//   --msg-size BYTES        big: the declared frame length (default 16777216 = 16 MiB)
//   --sent-size BYTES       big: payload bytes actually sent (default 15728640 = 15 MiB)
//   --fragments N           frag: fragments per attacker (default 100000)
//   --config JSON           keys merged into the daemon's global config, e.g.
//                           '{"max_ws_msg_size": 1048576}' (a key the daemon does not know is
//                           reported as a rejected config)
//   --hold-seconds S        keep the attackers connected (and quiet) this long after sending (default 5)
//   --after-seconds S       after disconnecting the attackers, wait this long and sample again (default 3)
//   --stall-seconds S       a write that does not drain in this long means the server stopped
//                           reading that attacker (default 5)
//   --send-timeout S        cap on the whole sending phase (default 120)
//   --json                  print the results as JSON on stdout (progress goes to stderr)
//
// Throughout, a well-behaved client (in its own thread, so the attackers' writes do not delay
// its timers) sends a 16-byte binary message every 50 ms on /echo and checks each echo.
// Exit status: 0 when the measurement ran (even if the daemon died: that is a result, reported),
// 1 on this script's own errors (including a rejected --config), 2 on a usage error.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDaemon, root, type RunningDaemon } from '../test/helpers/daemon.ts';
import { connect, upgradeRequest } from '../test/helpers/client.ts';
import { frame } from '../test/helpers/frames.ts';
import { sleep } from '../test/helpers/deadline.ts';

const MiB = 1024 * 1024;
const PROBE_INTERVAL_MS = 50;
const PROBE_SIZE = 16;
const SAMPLE_MS = 100;
/**
 * Every attacker frame is masked with the key 00 00 00 00. That is still a valid masked client
 * frame (RFC 6455 §5.3: the MASK bit is set and a 32-bit key follows; any key value is allowed),
 * and XOR with zero leaves the payload as it is, so one shared buffer serves every attacker and
 * every offset in the payload.
 */
const ZERO_MASK = Uint8Array.of(0, 0, 0, 0);

// =============================================================================================
// The echo probe (a worker thread running this same file)

interface PhaseEcho {
  sent: number;
  echoed: number;
  wrong: number;
  maxLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
}
interface ProbeReport {
  phases: Record<string, PhaseEcho>;
  total: PhaseEcho;
  /** Sent but never echoed by the end (after a 2 s grace period). */
  outstanding: number;
  oldestOutstandingMs: number;
  /** The probe's own timer lateness (if large, its latencies include client-side delay). */
  maxTimerLagMs: number;
  /** The probe's connection closed before the end: code and reason. */
  closedEarly: string | null;
  error: string | null;
}

type ProbeMsg = { type: 'phase'; phase: string } | { type: 'stop' };

async function runProbe(url: string): Promise<void> {
  const port = parentPort!;
  let phase = 'baseline';
  const lat: Record<string, number[]> = {};
  const counts: Record<string, { sent: number; echoed: number; wrong: number }> = {};
  const inFlight = new Map<number, { t: number; phase: string; payload: Buffer }>();
  let seq = 0;
  let maxLag = 0;
  let closedEarly: string | null = null;
  let stopping = false;
  const bucket = (p: string) => (counts[p] ??= { sent: 0, echoed: 0, wrong: 0 });
  let ws;
  try {
    ws = await connect(url);
  } catch (e) {
    port.postMessage({ type: 'error', error: String((e as Error).message) });
    return;
  }
  ws.on('message', (data: Buffer) => {
    const now = performance.now();
    const b = Buffer.from(data);
    const s = b.length >= 4 ? b.readUInt32BE(0) : -1;
    const f = inFlight.get(s);
    if (!f) { bucket(phase).wrong++; return; }
    inFlight.delete(s);
    if (!b.equals(f.payload)) { bucket(f.phase).wrong++; return; }
    bucket(f.phase).echoed++;
    (lat[f.phase] ??= []).push(now - f.t);
  });
  ws.on('close', (code, reason) => { if (!stopping) closedEarly = `${code} ${reason.toString()}`.trim(); });
  ws.on('error', (e) => { if (!stopping) closedEarly ??= `error ${e.message}`; });
  let expected = performance.now() + PROBE_INTERVAL_MS;
  const tick = () => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - expected);
    expected = now + PROBE_INTERVAL_MS;
    if (ws.readyState !== ws.OPEN) return;
    const payload = Buffer.alloc(PROBE_SIZE);
    payload.writeUInt32BE(seq, 0);
    for (let i = 4; i < PROBE_SIZE; i++) payload[i] = (seq * 31 + i) & 0xff;
    inFlight.set(seq, { t: now, phase, payload });
    bucket(phase).sent++;
    seq++;
    ws.send(payload, { binary: true });
  };
  const timer = setInterval(tick, PROBE_INTERVAL_MS);
  port.postMessage({ type: 'ready' });
  port.on('message', async (m: ProbeMsg) => {
    if (m.type === 'phase') { phase = m.phase; return; }
    clearInterval(timer);
    const until = performance.now() + 2000;
    while (inFlight.size > 0 && performance.now() < until && ws.readyState === ws.OPEN) await sleep(20);
    stopping = true;
    const now = performance.now();
    let oldest = 0;
    for (const f of inFlight.values()) oldest = Math.max(oldest, now - f.t);
    const summarize = (c: { sent: number; echoed: number; wrong: number }, l: number[]): PhaseEcho => {
      const s = [...l].sort((a, b) => a - b);
      const q = (x: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(x * s.length))] : 0);
      const r1 = (x: number) => Math.round(x * 10) / 10;
      return { ...c, maxLatencyMs: r1(s.length ? s[s.length - 1] : 0), p50LatencyMs: r1(q(0.5)), p99LatencyMs: r1(q(0.99)) };
    };
    const phases: Record<string, PhaseEcho> = {};
    const all = { sent: 0, echoed: 0, wrong: 0 };
    const allLat: number[] = [];
    for (const [p, c] of Object.entries(counts)) {
      phases[p] = summarize(c, lat[p] ?? []);
      all.sent += c.sent; all.echoed += c.echoed; all.wrong += c.wrong;
      allLat.push(...(lat[p] ?? []));
    }
    const report: ProbeReport = {
      phases, total: summarize(all, allLat), outstanding: inFlight.size, oldestOutstandingMs: oldest,
      maxTimerLagMs: maxLag, closedEarly, error: null,
    };
    report.oldestOutstandingMs = Math.round(oldest);
    report.maxTimerLagMs = Math.round(maxLag);
    port.postMessage({ type: 'report', report });
    ws.terminate();
    port.close();
  });
}

if (!isMainThread) {
  const data = workerData as { role: string; url: string };
  if (data?.role === 'probe') await runProbe(data.url);
}

// =============================================================================================
// Main thread

class UsageError extends Error {}
class ScriptError extends Error {}

interface Options {
  attacks: ('big' | 'frag')[];
  clients: number | null;
  msgSize: number;
  sentSize: number;
  fragments: number;
  config: Record<string, unknown>;
  configText: string | null;
  holdSeconds: number;
  afterSeconds: number;
  stallSeconds: number;
  sendTimeout: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        attack: { type: 'string', default: 'both' },
        clients: { type: 'string' },
        'msg-size': { type: 'string' },
        'sent-size': { type: 'string' },
        fragments: { type: 'string' },
        config: { type: 'string' },
        'hold-seconds': { type: 'string' },
        'after-seconds': { type: 'string' },
        'stall-seconds': { type: 'string' },
        'send-timeout': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
    process.stdout.write(head.slice(0, head.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  const num = (name: string, s: string | undefined, def: number, opts: { integer?: boolean; min?: number; max?: number } = {}) => {
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < (opts.min ?? 0) || n > (opts.max ?? Infinity)) {
      throw new UsageError(`--${name} must be ${opts.integer ? 'an integer' : 'a number'} in [${opts.min ?? 0}, ${opts.max ?? '∞'}], got "${s}"`);
    }
    return n;
  };
  const attack = v.attack!;
  if (!['big', 'frag', 'both'].includes(attack)) throw new UsageError(`--attack must be big, frag or both, got "${attack}"`);
  let config: Record<string, unknown> = {};
  if (v.config !== undefined) {
    let c: unknown;
    try { c = JSON.parse(v.config); } catch (e) { throw new UsageError(`--config is not valid JSON: ${(e as Error).message}`); }
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new UsageError('--config must be a JSON object of global config keys');
    for (const k of ['ports', 'apps', 'certs']) if (k in c) throw new UsageError(`--config may not set "${k}" (the script generates it)`);
    config = c as Record<string, unknown>;
  }
  const msgSize = num('msg-size', v['msg-size'], 16 * MiB, { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER });
  const sentSize = num('sent-size', v['sent-size'], Math.min(15 * MiB, msgSize), { integer: true, min: 0, max: 4096 * MiB });
  if (sentSize > msgSize) throw new UsageError(`--sent-size (${sentSize}) must not exceed --msg-size (${msgSize}): the attack leaves the frame unfinished`);
  return {
    attacks: attack === 'both' ? ['big', 'frag'] : [attack as 'big' | 'frag'],
    clients: v.clients === undefined ? null : num('clients', v.clients, 0, { integer: true, min: 1, max: 5000 }),
    msgSize,
    sentSize,
    fragments: num('fragments', v.fragments, 100_000, { integer: true, min: 1, max: 10_000_000 }),
    config,
    configText: v.config ?? null,
    holdSeconds: num('hold-seconds', v['hold-seconds'], 5, { max: 3600 }),
    afterSeconds: num('after-seconds', v['after-seconds'], 3, { max: 3600 }),
    stallSeconds: num('stall-seconds', v['stall-seconds'], 5, { min: 0.1, max: 3600 }),
    sendTimeout: num('send-timeout', v['send-timeout'], 120, { min: 1, max: 3600 }),
    json: v.json === true,
  };
}

// ---------------------------------------------------------------------------------------------
// /proc

interface ProcStatus { rssKiB: number; hwmKiB: number; threads: number }

function procStatus(pid: number): ProcStatus | null {
  let s: string;
  try { s = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return null; }
  const field = (k: string) => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')); return m ? Number(m[1]) : 0; };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), threads: field('Threads') };
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch { /* the thread ended */ }
  }
  return out;
}

/**
 * The process that runs the daemon's threads: the spawned pid, or (if it re-executed itself, as
 * bin/node-check.mjs does on an old Node) the descendant with the most threads.
 */
function threadOwner(pid: number): { pid: number; threads: number } {
  let best = { pid, threads: procStatus(pid)?.threads ?? 0 };
  const queue = childPids(pid);
  for (let i = 0; i < queue.length && i < 64; i++) {
    const st = procStatus(queue[i]);
    if (st && st.threads > best.threads) best = { pid: queue[i], threads: st.threads };
    queue.push(...childPids(queue[i]));
  }
  return best;
}

/**
 * Bytes in the kernel's TCP queues between the attackers and the daemon (/proc/net/tcp, this
 * network namespace): the daemon's receive queues (sent, not yet read by the daemon) plus the
 * clients' unacknowledged send queues. When this stays above zero, the daemon stopped reading.
 */
function unreadByDaemon(port: number): number {
  let text: string;
  try { text = readFileSync('/proc/net/tcp', 'utf8'); } catch { return -1; }
  let sum = 0;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = parseInt(f[1].split(':')[1], 16);
    const remote = parseInt(f[2].split(':')[1], 16);
    const [tx, rx] = f[4].split(':').map((x) => parseInt(x, 16));
    if (local === port) sum += rx;
    else if (remote === port) sum += tx;
  }
  return sum;
}

interface Sample { t: number; phase: string; rssKiB: number; hwmKiB: number }

class Sampler {
  samples: Sample[] = [];
  phase = 'baseline';
  private timer: NodeJS.Timeout;
  private t0 = performance.now();
  private pid: number;
  constructor(pid: number) {
    this.pid = pid;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }
  sample(): Sample | null {
    const st = procStatus(this.pid);
    if (!st) return null;
    const s = { t: (performance.now() - this.t0) / 1000, phase: this.phase, rssKiB: st.rssKiB, hwmKiB: st.hwmKiB };
    this.samples.push(s);
    return s;
  }
  stop(): void { clearInterval(this.timer); }
  maxRss(phases: string[]): number {
    let m = 0;
    for (const s of this.samples) if (phases.includes(s.phase)) m = Math.max(m, s.rssKiB);
    return m;
  }
}

// ---------------------------------------------------------------------------------------------
// Attackers

interface Attacker {
  id: number;
  socket: net.Socket;
  /** Bytes handed to socket.write (the part still in Node's queue is subtracted at the end). */
  queued: number;
  /** Bytes that left Node for the kernel when sending stopped (some may still sit in socket buffers). */
  written: number;
  complete: boolean;
  stalled: boolean;
  timedOut: boolean;
  /** We destroyed the socket: events after this are ours, not the server's. */
  ours: boolean;
  closeCode: number | null;
  closeReason: string;
  ended: boolean;
  errorCode: string | null;
  closedAtMs: number | null;
  pings: number;
  otherFrames: number;
  frameBuf: Buffer;
}

/** Parses the (unmasked) frames the server sends to an attacker: close codes, pings. */
function onServerBytes(a: Attacker, b: Buffer): void {
  a.frameBuf = a.frameBuf.length ? Buffer.concat([a.frameBuf, b]) : b;
  for (;;) {
    const f = a.frameBuf;
    if (f.length < 2) return;
    const op = f[0] & 0x0f;
    let len = f[1] & 0x7f;
    let hdr = 2;
    if (len === 126) { if (f.length < 4) return; len = f.readUInt16BE(2); hdr = 4; }
    else if (len === 127) { if (f.length < 10) return; len = Number(f.readBigUInt64BE(2)); hdr = 10; }
    if (f[1] & 0x80) hdr += 4;
    if (len > 1 * MiB) { a.otherFrames++; a.frameBuf = Buffer.alloc(0); return; } // not expected: stop parsing
    if (f.length < hdr + len) return;
    const payload = f.subarray(hdr, hdr + len);
    if (op === 8) {
      if (a.closeCode === null) {
        a.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        a.closeReason = payload.subarray(2).toString();
      }
    } else if (op === 9) a.pings++;
    else a.otherFrames++;
    a.frameBuf = f.subarray(hdr + len);
  }
}

function openAttacker(id: number, port: number, t0: number): Promise<Attacker> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const a: Attacker = {
      id, socket, queued: 0, written: 0, complete: false, stalled: false, timedOut: false, ours: false,
      closeCode: null, closeReason: '', ended: false, errorCode: null, closedAtMs: null, pings: 0, otherFrames: 0,
      frameBuf: Buffer.alloc(0),
    };
    let head: Buffer | null = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new ScriptError(`attacker ${id}: no handshake response within 10 s`)); }, 10_000);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(upgradeRequest(port, '/echo')));
    socket.on('data', (b: Buffer) => {
      if (head === null) { if (!a.ours) onServerBytes(a, b); return; }
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = head.subarray(0, head.indexOf('\r\n')).toString();
      const rest = head.subarray(end + 4);
      head = null;
      clearTimeout(timer);
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        socket.destroy();
        reject(new ScriptError(`attacker ${id}: handshake refused: ${status}`));
        return;
      }
      resolve(a);
      if (rest.length) onServerBytes(a, rest);
    });
    socket.on('end', () => { if (!a.ours) a.ended = true; });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (head !== null) { clearTimeout(timer); reject(new ScriptError(`attacker ${id}: ${e.message}`)); return; }
      if (!a.ours) a.errorCode ??= e.code ?? e.message;
    });
    socket.on('close', () => { if (!a.ours && a.closedAtMs === null) a.closedAtMs = performance.now() - t0; });
  });
}

/** Writes `parts` (each a view of a shared buffer), waiting for 'drain' whenever Node's queue is full. */
async function sendParts(a: Attacker, parts: Iterable<Uint8Array>, stallMs: number, deadline: number): Promise<void> {
  const s = a.socket;
  for (const p of parts) {
    if (s.destroyed || a.closedAtMs !== null) return;
    a.queued += p.length;
    if (s.write(p)) continue;
    const r = await new Promise<'drain' | 'close' | 'stall' | 'deadline'>((resolve) => {
      const left = deadline - performance.now();
      const t = setTimeout(() => done(left < stallMs ? 'deadline' : 'stall'), Math.max(0, Math.min(stallMs, left)));
      const onDrain = () => done('drain');
      const onClose = () => done('close');
      function done(x: 'drain' | 'close' | 'stall' | 'deadline') {
        clearTimeout(t);
        s.off('drain', onDrain);
        s.off('close', onClose);
        resolve(x);
      }
      s.once('drain', onDrain);
      s.once('close', onClose);
    });
    if (r === 'close') return;
    if (r === 'stall') { a.stalled = true; return; }
    if (r === 'deadline') { a.timedOut = true; return; }
  }
  a.complete = true;
}

function* slices(buf: Uint8Array, total: number, chunk: number): Generator<Uint8Array> {
  // `buf` is at least `chunk` long (or exactly `total`): the payload is the same bytes repeated.
  for (let off = 0; off < total; off += chunk) yield buf.subarray(0, Math.min(chunk, total - off));
}

// ---------------------------------------------------------------------------------------------
// One attack

type AttackKind = 'big' | 'frag';

interface AttackResult {
  attack: AttackKind;
  description: string;
  clients: number;
  daemonPid: number;
  daemonThreads: number;
  rssMiB: {
    baseline: number; peak: number; endOfSend: number | null; endOfHold: number | null; after: number | null;
    growthPeak: number; growthEndOfHold: number | null; vmHwm: number;
  };
  traffic: {
    bytesPerClient: number; bytesIntended: number; bytesWritten: number; sendSeconds: number;
    complete: number; stalled: number; timedOut: number; handshakeSeconds: number;
    /** Seconds from the attack's start until the daemon had read every written byte (null: it did not). */
    readBySeconds: number | null;
    /** Written bytes still unread in the kernel's queues when the hold began. */
    unreadBytes: number;
  };
  closedByServer: {
    count: number; codes: Record<string, number>; reasons: string[]; fin: number; errors: Record<string, number>;
    firstMs: number | null; lastMs: number | null;
  };
  echo: ProbeReport | null;
  daemon: {
    diedDuringRun: boolean; exitCode: number | null; signal: string | null; stopSeconds: number;
    notableLog: string[];
  };
  samples: Sample[];
}

const kib2mib = (k: number) => Math.round((k / 1024) * 10) / 10;
const size = (b: number) => (b >= 10 * MiB ? `${(b / MiB).toFixed(1)} MiB` : b >= 10 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} bytes`);

let current: { daemon?: RunningDaemon; probe?: Worker; attackers: Attacker[]; sampler?: Sampler } = { attackers: [] };

async function startDaemonOrExplain(opts: Options): Promise<RunningDaemon> {
  try {
    return await startDaemon({ config: { worker_c: 1, ...opts.config }, readyTimeoutMs: 30_000 });
  } catch (e) {
    const msg = (e as Error).message;
    if (/configuration error/.test(msg)) {
      const lines = msg.split('\n').filter((l) => /error|unknown key|must|invalid/i.test(l) && !/^daemon exited/.test(l));
      throw new ScriptError(
        `the daemon rejected the configuration${opts.configText ? ` (with --config ${opts.configText})` : ''}; ` +
        `an unknown key means this daemon does not implement that limit yet:\n  ${lines.join('\n  ')}`);
    }
    throw new ScriptError(`the daemon did not start: ${msg}`);
  }
}

async function runAttack(kind: AttackKind, opts: Options): Promise<AttackResult> {
  const n = opts.clients ?? (kind === 'big' ? 60 : 50);
  const log = (s: string) => process.stderr.write(`[${kind}] ${s}\n`);

  // The attack's bytes: one shared buffer for every attacker.
  let header: Uint8Array;
  let body: Uint8Array;
  let bodyBytes: number;
  let chunk: number;
  let description: string;
  if (kind === 'big') {
    header = frame({ opcode: 2, fin: true, mask: ZERO_MASK, lengthForm: 64, declaredLength: opts.msgSize });
    chunk = 1 * MiB;
    body = new Uint8Array(Math.min(chunk, opts.sentSize)).fill(0x61);
    bodyBytes = opts.sentSize;
    description = `${n} clients × one ${opts.msgSize}-byte binary frame: header + ${opts.sentSize} payload bytes, then quiet`;
  } else {
    const first = frame({ opcode: 2, fin: false, mask: ZERO_MASK, payload: Uint8Array.of(0x61) });
    const cont = frame({ opcode: 0, fin: false, mask: ZERO_MASK, payload: Uint8Array.of(0x61) });
    header = new Uint8Array(0);
    body = new Uint8Array(first.length * opts.fragments);
    body.set(first, 0);
    for (let i = 1; i < opts.fragments; i++) body.set(cont, i * cont.length);
    chunk = 64 * 1024;
    bodyBytes = body.length;
    description = `${n} clients × one binary message in ${opts.fragments} one-byte fragments (${first.length} bytes each), no final fragment, then quiet`;
  }
  const bodyParts = kind === 'big'
    ? () => slices(body, bodyBytes, chunk)
    : function* () { for (let off = 0; off < bodyBytes; off += chunk) yield body.subarray(off, Math.min(bodyBytes, off + chunk)); };

  log(`starting the daemon`);
  const d = await startDaemonOrExplain(opts);
  current.daemon = d;
  let died: { code: number | null; signal: string | null } | null = null;
  d.proc.once('exit', (code, signal) => { died = { code, signal }; });
  const owner = threadOwner(d.proc.pid!);
  log(`daemon pid ${owner.pid} (${owner.threads} threads), port ${d.port}`);
  const sampler = new Sampler(owner.pid);
  current.sampler = sampler;

  // The echo probe, then the idle baseline.
  const probe = new Worker(new URL(import.meta.url), { workerData: { role: 'probe', url: d.url('/echo') } });
  current.probe = probe;
  let probeReport: ProbeReport | null = null;
  let probeError: string | null = null;
  const probeDone = new Promise<void>((resolve) => {
    probe.on('message', (m: { type: string; report?: ProbeReport; error?: string }) => {
      if (m.type === 'report') { probeReport = m.report!; resolve(); }
      if (m.type === 'error') { probeError = m.error!; resolve(); }
    });
    probe.on('error', (e) => { probeError = String(e); resolve(); });
    probe.on('exit', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new ScriptError('the echo probe did not connect within 10 s')), 10_000);
    probe.on('message', (m: { type: string; error?: string }) => {
      if (m.type === 'ready') { clearTimeout(t); resolve(); }
      if (m.type === 'error') { clearTimeout(t); reject(new ScriptError(`the echo probe could not connect: ${m.error}`)); }
    });
  });
  await sleep(1500);
  const base = sampler.sample();
  if (!base) throw new ScriptError(`cannot read /proc/${owner.pid}/status`);
  log(`baseline RSS ${kib2mib(base.rssKiB)} MiB`);

  // Attack.
  probe.postMessage({ type: 'phase', phase: 'attack' });
  sampler.phase = 'send';
  const t0 = performance.now();
  const attackers = await Promise.all(Array.from({ length: n }, (_, i) => openAttacker(i, d.port, t0)));
  current.attackers = attackers;
  const tHandshake = performance.now();
  log(`${n} attackers connected in ${((tHandshake - t0) / 1000).toFixed(2)} s; sending ${((header.length + bodyBytes) * n / MiB).toFixed(1)} MiB`);
  const deadline = performance.now() + opts.sendTimeout * 1000;
  const stallMs = opts.stallSeconds * 1000;
  await Promise.all(attackers.map(async (a) => {
    if (header.length) { a.queued += header.length; a.socket.write(header); }
    await sendParts(a, bodyParts(), stallMs, deadline);
    a.written = a.queued - a.socket.writableLength;
  }));
  const tSent = performance.now();
  let written = attackers.reduce((s, a) => s + a.written, 0);
  log(`wrote ${size(written)} in ${((tSent - t0) / 1000).toFixed(2)} s; waiting until the daemon has read it (or stops reading)`);
  // Written is not received: up to several MiB per connection can sit in the kernel's socket
  // buffers. Wait until the daemon's receive queues are empty, or stop shrinking for --stall-seconds
  // (they can grow meanwhile: a stalled attacker's queued writes still move into the kernel).
  let unread = unreadByDaemon(d.port);
  let lastProgress = performance.now();
  while (unread !== 0 && !died && performance.now() < deadline && performance.now() - lastProgress < stallMs) {
    await sleep(50);
    const u = unreadByDaemon(d.port);
    if (u < unread) lastProgress = performance.now();
    unread = u;
  }
  const tRead = performance.now();
  for (const a of attackers) if (!a.socket.destroyed) a.written = a.queued - a.socket.writableLength;
  written = attackers.reduce((s, a) => s + a.written, 0);
  const endOfSend = sampler.sample();
  log(unread === 0
    ? `the daemon read everything ${((tRead - t0) / 1000).toFixed(2)} s after the attack began; RSS ${endOfSend ? kib2mib(endOfSend.rssKiB) : '?'} MiB; holding ${opts.holdSeconds} s`
    : `${size(unread)} still unread by the daemon ${((tRead - t0) / 1000).toFixed(2)} s after the attack began; holding ${opts.holdSeconds} s`);

  sampler.phase = 'hold';
  const holdUntil = performance.now() + opts.holdSeconds * 1000;
  while (performance.now() < holdUntil && !died) await sleep(Math.min(100, holdUntil - performance.now()));
  const endOfHold = died ? null : sampler.sample();

  // Who did the server close, before we close them all.
  const closed = attackers.filter((a) => a.closeCode !== null || a.ended || a.errorCode !== null || a.closedAtMs !== null);
  const codes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const reasons = new Set<string>();
  for (const a of closed) {
    const c = a.closeCode === null ? 'no close frame' : String(a.closeCode);
    codes[c] = (codes[c] ?? 0) + 1;
    if (a.closeReason) reasons.add(a.closeReason);
    if (a.errorCode) errors[a.errorCode] = (errors[a.errorCode] ?? 0) + 1;
  }
  const closeTimes = closed.map((a) => a.closedAtMs).filter((x): x is number => x !== null);
  for (const a of attackers) { a.ours = true; a.socket.destroy(); }
  current.attackers = [];

  sampler.phase = 'after';
  probe.postMessage({ type: 'phase', phase: 'after' });
  const afterUntil = performance.now() + opts.afterSeconds * 1000;
  while (performance.now() < afterUntil && !died) await sleep(Math.min(100, afterUntil - performance.now()));
  const after = died ? null : sampler.sample();
  const hwm = procStatus(owner.pid)?.hwmKiB ?? null;
  sampler.stop();

  probe.postMessage({ type: 'stop' });
  await Promise.race([probeDone, sleep(5000)]);
  await probe.terminate();
  current.probe = undefined;
  if (probeError && !probeReport) log(`echo probe: ${probeError}`);

  const diedDuringRun = died !== null;
  const tStop = performance.now();
  log(diedDuringRun ? `the daemon had already exited` : `stopping the daemon (SIGTERM)`);
  const exitCode = await d.stop('SIGTERM', 40_000);
  const stopSeconds = (performance.now() - tStop) / 1000;
  current.daemon = undefined;
  const signal = d.proc.signalCode;
  const notableLog = d.output().split('\n')
    .filter((l) => /\b(warning|error|crit|alert|emerg|fatal)\b|heap|out of memory|abort/i.test(l)).slice(-12);

  const peak = sampler.maxRss(['send', 'hold', 'after']);
  return {
    attack: kind,
    description,
    clients: n,
    daemonPid: owner.pid,
    daemonThreads: owner.threads,
    rssMiB: {
      baseline: kib2mib(base.rssKiB),
      peak: kib2mib(peak),
      endOfSend: endOfSend ? kib2mib(endOfSend.rssKiB) : null,
      endOfHold: endOfHold ? kib2mib(endOfHold.rssKiB) : null,
      after: after ? kib2mib(after.rssKiB) : null,
      growthPeak: kib2mib(peak - base.rssKiB),
      growthEndOfHold: endOfHold ? kib2mib(endOfHold.rssKiB - base.rssKiB) : null,
      // VmHWM read at the end; if the daemon died, the highest VmHWM sampled before that.
      vmHwm: kib2mib(hwm ?? Math.max(0, ...sampler.samples.map((x) => x.hwmKiB))),
    },
    traffic: {
      bytesPerClient: header.length + bodyBytes,
      bytesIntended: (header.length + bodyBytes) * n,
      bytesWritten: written,
      sendSeconds: Math.round((tSent - t0) / 10) / 100,
      readBySeconds: unread === 0 ? Math.round((tRead - t0) / 10) / 100 : null,
      unreadBytes: Math.max(0, unread),
      handshakeSeconds: Math.round((tHandshake - t0) / 10) / 100,
      complete: attackers.filter((a) => a.complete).length,
      stalled: attackers.filter((a) => a.stalled).length,
      timedOut: attackers.filter((a) => a.timedOut).length,
    },
    closedByServer: {
      count: closed.length, codes, reasons: [...reasons], fin: closed.filter((a) => a.ended).length, errors,
      firstMs: closeTimes.length ? Math.round(Math.min(...closeTimes)) : null,
      lastMs: closeTimes.length ? Math.round(Math.max(...closeTimes)) : null,
    },
    echo: probeReport,
    daemon: { diedDuringRun, exitCode, signal, stopSeconds: Math.round(stopSeconds * 100) / 100, notableLog },
    samples: sampler.samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

function table(r: AttackResult): string {
  const L: string[] = [];
  const mb = (x: number | null) => (x === null ? 'n/a (daemon gone)' : `${x.toFixed(1)} MiB`);
  const sign = (x: number | null) => (x === null ? '' : ` (${x >= 0 ? '+' : ''}${x.toFixed(1)} MiB over baseline)`);
  L.push(`attack ${r.attack}: ${r.description}`);
  L.push(`  daemon pid ${r.daemonPid} (${r.daemonThreads} threads at start)`);
  L.push(`  RSS  baseline (idle, echo client connected)   ${mb(r.rssMiB.baseline)}`);
  L.push(`       all sent and read (or reading stopped)   ${mb(r.rssMiB.endOfSend)}${sign(r.rssMiB.endOfSend === null ? null : r.rssMiB.endOfSend - r.rssMiB.baseline)}`);
  L.push(`       end of hold (attackers still connected)  ${mb(r.rssMiB.endOfHold)}${sign(r.rssMiB.growthEndOfHold)}`);
  L.push(`       peak sampled (every ${SAMPLE_MS} ms)              ${mb(r.rssMiB.peak)}${sign(r.rssMiB.growthPeak)}`);
  L.push(`       after attackers disconnected              ${mb(r.rssMiB.after)}${sign(r.rssMiB.after === null ? null : r.rssMiB.after - r.rssMiB.baseline)}`);
  L.push(`       VmHWM (peak over the daemon's life)      ${mb(r.rssMiB.vmHwm)}${r.daemon.diedDuringRun ? ' (last read before it died)' : ''}`);
  const t = r.traffic;
  L.push(`  traffic  ${size(t.bytesWritten)} of ${size(t.bytesIntended)} written in ${t.sendSeconds} s ` +
    `(handshakes ${t.handshakeSeconds} s); ${t.complete} attackers complete, ${t.stalled} stalled (writes stopped draining), ${t.timedOut} hit --send-timeout`);
  L.push(`           ${t.readBySeconds !== null ? `the daemon had read all of it ${t.readBySeconds} s after the attack began`
    : `${size(t.unreadBytes)} left unread in the kernel's socket queues: the daemon stopped reading`}`);
  const c = r.closedByServer;
  const codes = Object.entries(c.codes).map(([k, v]) => `${k} ×${v}`).join(', ') || '-';
  const errs = Object.entries(c.errors).map(([k, v]) => `${k} ×${v}`).join(', ');
  L.push(`  closed by the server  ${c.count} of ${r.clients}` + (c.count ? `: codes ${codes}; TCP FIN ${c.fin}` +
    (errs ? `; errors ${errs}` : '') + (c.firstMs !== null ? `; ${c.firstMs}-${c.lastMs} ms after the attack began` : '') +
    (c.reasons.length ? `; reasons ${c.reasons.map((x) => JSON.stringify(x)).join(', ')}` : '') : ''));
  const e = r.echo;
  if (!e) L.push('  echo client  no report (the probe failed)');
  else {
    const ph = (name: string) => {
      const p = e.phases[name];
      return p ? `${name} ${p.echoed}/${p.sent} (max ${p.maxLatencyMs.toFixed(0)} ms, p99 ${p.p99LatencyMs.toFixed(0)} ms)` : `${name} -`;
    };
    L.push(`  echo client  sent ${e.total.sent}, echoed ${e.total.echoed}, wrong ${e.total.wrong}, longest ${e.total.maxLatencyMs.toFixed(0)} ms; ` +
      `unanswered ${e.outstanding}${e.outstanding ? ` (oldest ${e.oldestOutstandingMs.toFixed(0)} ms)` : ''}`);
    L.push(`               ${ph('baseline')}; ${ph('attack')}; ${ph('after')}; probe timer lag max ${e.maxTimerLagMs.toFixed(0)} ms` +
      (e.closedEarly ? `; its connection closed early: ${e.closedEarly}` : ''));
  }
  const dd = r.daemon;
  L.push(`  daemon  ${dd.diedDuringRun ? 'DIED DURING THE RUN, ' : 'SIGTERM, '}exit status ${dd.exitCode}${dd.signal ? ` (signal ${dd.signal})` : ''}` +
    `${dd.diedDuringRun ? '' : ` after ${dd.stopSeconds} s`}`);
  for (const l of dd.notableLog) L.push(`    log: ${l}`);
  return L.join('\n');
}

function summary(rs: AttackResult[]): string {
  const head = ['attack', 'clients', 'baseline', 'peak', 'end of hold', 'after', 'VmHWM', 'growth', 'closed', 'echo', 'max echo', 'exit'];
  const rows = rs.map((r) => [
    r.attack, String(r.clients), `${r.rssMiB.baseline.toFixed(1)}`, `${r.rssMiB.peak.toFixed(1)}`,
    r.rssMiB.endOfHold === null ? '-' : r.rssMiB.endOfHold.toFixed(1), r.rssMiB.after === null ? '-' : r.rssMiB.after.toFixed(1),
    r.rssMiB.vmHwm.toFixed(1), `+${r.rssMiB.growthPeak.toFixed(1)}`,
    `${r.closedByServer.count}/${r.clients}`, r.echo ? `${r.echo.total.echoed}/${r.echo.total.sent}` : '-',
    r.echo ? `${r.echo.total.maxLatencyMs.toFixed(0)} ms` : '-', `${r.daemon.exitCode}${r.daemon.signal ? `/${r.daemon.signal}` : ''}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [`RSS in MiB (growth = peak - baseline)`, line(head), ...rows.map(line)].join('\n');
}

function gitDescribe(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'apps', 'bin', 'assembly'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${commit} (src/apps/bin/assembly modified)` : commit;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------

async function cleanup(): Promise<void> {
  for (const a of current.attackers) { a.ours = true; a.socket.destroy(); }
  current.sampler?.stop();
  if (current.probe) await current.probe.terminate().catch(() => {});
  if (current.daemon) await current.daemon.stop('SIGTERM', 40_000).catch(() => null);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`attack: ${e.message}\nTry npm run attack -- --help\n`);
      return 2;
    }
    throw e;
  }
  if (process.platform !== 'linux') throw new ScriptError('this measurement reads /proc: Linux only');
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('attack: interrupted, stopping everything\n');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const command = `npm run attack -- ${process.argv.slice(2).map((a) => (/^[\w./=:,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}`.trim();
  const results: AttackResult[] = [];
  for (const kind of opts.attacks) results.push(await runAttack(kind, opts));

  const meta = { command, commit: gitDescribe(), node: process.version, date: new Date().toISOString(), config: opts.config };
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ...meta, results }, null, 2) + '\n');
  } else {
    const out = [
      `command: ${command}`,
      `commit ${meta.commit}, node ${meta.node}, ${meta.date}; daemon: worker_c 1, apps/echo${Object.keys(opts.config).length ? `, config ${JSON.stringify(opts.config)}` : ', default limits'}`,
      '',
      ...results.flatMap((r) => [table(r), '']),
      summary(results),
    ];
    process.stdout.write(out.join('\n') + '\n');
  }
  return 0;
}

if (isMainThread) {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    process.stderr.write(`attack: ${e instanceof ScriptError ? e.message : (e as Error).stack ?? String(e)}\n`);
    code = 1;
  }
  await cleanup();
  process.exit(code);
}
