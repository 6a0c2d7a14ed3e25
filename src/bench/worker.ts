// A bench worker thread: drives its share of the connections and reports counters, latency
// histograms and error samples to the main thread (driver.ts). Connection i belongs to thread
// i % threads; broadcast senders are connections 0 .. senders-1. With several URLs, connection i
// connects to the one connectionTarget (args.ts) gives it; counters and latencies are also kept per
// URL.
//
// Messages from the main thread: go (start traffic), mark (reset the latency histogram and report
// counters: start of the measured window), stop (stop sending; report counters: end of the window),
// drain (wait for what is outstanding, then close every connection cleanly and report), and for
// connect mode idle (open the idle connections and report) and idleClose (close them and report).
import { parentPort, workerData } from 'node:worker_threads';
import { connectionTarget } from './args.ts';
import type { BenchOptions } from './args.ts';
import { Conn, ConnState } from './connection.ts';
import type { ConnEvents } from './connection.ts';
import type { ClientFraming, ProtocolError } from './framing.ts';
import { createFraming } from './codec.ts';
import { Histogram } from './histogram.ts';
import { PayloadFormat, Verdict, VERDICT_TEXT } from './payload.ts';
import { emptyCounters, emptyTargetCounters, MAX_ERROR_SAMPLES } from './stats.ts';
import type { Counters, TargetCounters, ToMain, ToWorker } from './stats.ts';

export interface WorkerInit {
  options: BenchOptions;
  thread: number;
  /** Broadcast: Int32Array over [sent[senders], done[threads][senders]]. */
  shared: SharedArrayBuffer;
  /** performance.timeOrigin + performance.now() of the main thread at start (ms): the payload clock's zero. */
  epochMs: number;
}

const init = workerData as WorkerInit;
const o = init.options;
const T = o.threads;
const me = init.thread;
const port = parentPort!;

// All client framing (masking, parsing) runs on the WebAssembly codec.
const framing: ClientFraming = await createFraming(Math.max(1024, o.size));

const counters: Counters = emptyCounters();
/** Which URL connection i uses (index into o.targets). */
const targetOf = (i: number) => connectionTarget(i, o);
/** Per URL: counters of its connections, and the latencies they saw. */
const perTarget: TargetCounters[] = o.targets.map(emptyTargetCounters);
let hists = o.targets.map(() => new Histogram());
/** Latencies are recorded between mark and stop only (the measured window). */
let recording = false;
const errorSamples: string[] = [];
let sending = false;

function sampleError(text: string): void {
  if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(text);
}

function post(msg: ToMain): void {
  port.postMessage(msg);
}

/** A snapshot of the counters, for the main thread. */
function snapshot(): { thread: number; counters: Counters; targets: TargetCounters[] } {
  return { thread: me, counters: { ...counters }, targets: perTarget.map((t) => ({ ...t })) };
}

function localCount(total: number): number {
  return total > me ? Math.floor((total - 1 - me) / T) + 1 : 0;
}

/** Opens `count` connections with global indices me, me + T, ... (offset by `base`), `concurrency` at a time. */
function openMany(count: number, base: number, concurrency: number, events: ConnEvents, maxMessage: number, onSettled: () => void): Conn[] {
  const conns: Conn[] = [];
  let started = 0, settled = 0;
  const startNext = () => {
    while (started < count && started - settled < concurrency) {
      const index = base + me + started * T;
      const c = new Conn(index, o.targets[targetOf(index)], framing, wrapped, maxMessage, o.deflate);
      conns.push(c);
      started++;
      c.connect();
    }
  };
  const settle = () => {
    settled++;
    if (settled === count) onSettled();
    else startNext();
  };
  const wrapped: ConnEvents = {
    onOpen(c) { counters.opened++; perTarget[targetOf(c.index)].opened++; events.onOpen(c); settle(); },
    onConnectFailed(c, reason) { counters.connectFailed++; perTarget[targetOf(c.index)].connectFailed++; sampleError(`connection ${c.index}: connect failed: ${reason}`); events.onConnectFailed(c, reason); settle(); },
    onMessage: events.onMessage,
    onProtocolError: events.onProtocolError,
    onClosed: events.onClosed,
  };
  if (count === 0) queueMicrotask(onSettled);
  else startNext();
  return conns;
}

function onProtocolError(c: Conn, err: ProtocolError): void {
  counters.protocolErrors++;
  sampleError(`connection ${c.index}: protocol error ${err.code} (${err.closeCode}): ${err.message}`);
}

function onClosed(c: Conn, requested: boolean, clean: boolean, detail: string): void {
  counters.closed++;
  if (!requested) {
    counters.unexpectedCloses++;
    sampleError(`connection ${c.index}: unexpected close: ${detail}`);
  } else if (!clean) {
    counters.uncleanCloses++;
    sampleError(`connection ${c.index}: close not answered cleanly: ${detail}`);
  }
  afterClose(c);
}

let afterClose: (c: Conn) => void = () => {};

function mismatch(c: Conn, what: string): void {
  counters.mismatches++;
  sampleError(`connection ${c.index}: ${what}`);
}

function closeAll(conns: Conn[], done: () => void): void {
  let open = 0;
  for (const c of conns) if (c.state !== ConnState.CLOSED) open++;
  if (open === 0) { done(); return; }
  const prev = afterClose;
  afterClose = (c) => { prev(c); if (--open === 0) done(); };
  for (const c of conns) if (c.state !== ConnState.CLOSED) c.close();
}

/** Broadcast: messages every client (on every thread) had, summed over the senders. */
let completedNow: () => number = () => 0;

function report(kind: 'marked' | 'stopped'): void {
  post({ type: kind, ...snapshot(), completed: completedNow() });
}

function finish(extra: Partial<Counters> = {}): void {
  Object.assign(counters, extra);
  post({ type: 'done', ...snapshot(), histograms: hists.map((h) => h.toJSON()), errors: errorSamples });
  // Let the message go out, then end the thread's event loop.
  setTimeout(() => process.exit(0), 10);
}

// Tick: cumulative counters every second for the live line.
const ticker = setInterval(() => post({ type: 'tick', ...snapshot() }), 1000);
ticker.unref();

// ---------------------------------------------------------------------------------------------
// echo

function runEcho(): void {
  const P = o.inFlight;
  const n = localCount(o.connections);
  const fmt = new PayloadFormat('echo', o.size, o.binary, o.deflate);
  const out = new Uint8Array(o.size);
  const sendTimes = new Float64Array(Math.max(1, n) * P);
  const slotOf = (c: Conn) => (c.index - me) / T;
  const sendOne = (c: Conn) => {
    const seq = c.seqOut++;
    fmt.write(out, 0, c.index, seq);
    sendTimes[slotOf(c) * P + (seq % P)] = performance.now();
    c.sendData(o.binary, out);
    counters.sent++;
    perTarget[targetOf(c.index)].sent++;
    counters.bytesOut += o.size;
  };
  let drainDone: (() => void) | null = null;
  const outstanding = () => { let k = 0; for (const c of conns) if (c.state === ConnState.OPEN) k += c.seqOut - c.seqIn; return k; };
  const conns = openMany(n, 0, 128, {
    onOpen() {},
    onConnectFailed() {},
    onMessage(c, binary, bytes) {
      const now = performance.now();
      if (binary !== o.binary) { mismatch(c, `echo ${c.seqIn} came back as ${binary ? 'binary' : 'text'}`); c.seqIn++; }
      else {
        const v = fmt.read(bytes);
        if (v !== Verdict.OK) mismatch(c, `echo ${c.seqIn}: ${VERDICT_TEXT[v]} (${bytes.length} bytes)`);
        else if (fmt.id !== c.index || fmt.seq !== c.seqIn >>> 0) mismatch(c, `expected echo ${c.seqIn} of connection ${c.index}, got ${fmt.seq} of ${fmt.id}`);
        else {
          const k = targetOf(c.index);
          if (recording) hists[k].record((now - sendTimes[slotOf(c) * P + (c.seqIn % P)]) * 1e6);
          counters.received++;
          counters.bytesIn += bytes.length;
          perTarget[k].received++;
          perTarget[k].bytesIn += bytes.length;
        }
        c.seqIn++;
      }
      if (c.seqIn > c.seqOut) { mismatch(c, 'more echoes than messages sent'); c.seqIn = c.seqOut; }
      if (sending) sendOne(c);
      else if (drainDone && outstanding() === 0) drainDone();
    },
    onProtocolError,
    onClosed,
  }, o.size + 1024, () => post({ type: 'ready', ...snapshot() }));
  afterClose = () => { if (drainDone && outstanding() === 0) drainDone(); };

  handlers.go = () => {
    sending = true;
    for (const c of conns) if (c.state === ConnState.OPEN) for (let i = 0; i < P; i++) sendOne(c);
  };
  handlers.stop = () => { sending = false; report('stopped'); };
  handlers.drain = (deadlineMs) => {
    let finished = false;
    const end = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const lost = outstanding();
      if (lost > 0) sampleError(`${lost} echo(es) not received within ${deadlineMs} ms after the end`);
      closeAll(conns, () => finish({ lost: counters.lost + lost }));
    };
    const timer = setTimeout(end, deadlineMs);
    drainDone = end;
    if (outstanding() === 0) end();
  };
}

// ---------------------------------------------------------------------------------------------
// broadcast

function runBroadcast(): void {
  const M = o.senders;
  const n = localCount(o.connections);
  const fmt = new PayloadFormat('broadcast', o.size, o.binary, o.deflate);
  const out = new Uint8Array(o.size);
  const shared = new Int32Array(init.shared);
  // shared[s]: messages sender s has sent; shared[M + t*M + s]: how many of sender s's messages
  // every open receiver of thread t has.
  const doneBase = M + me * M;
  const R = o.rate === null ? o.inFlight : 65536; // per-sender ring of receipt counts
  const counts = new Int32Array(M * R);
  const localDone = new Float64Array(M);
  const expected = new Float64Array(Math.max(1, n) * M); // per receiver, per sender: next seq
  const slotOf = (c: Conn) => (c.index - me) / T;
  const epoch = init.epochMs;
  const nowUs = () => ((performance.timeOrigin + performance.now() - epoch) * 1000) >>> 0;
  let openReceivers = 0;
  let drainDone: (() => void) | null = null;
  const localSenders: Conn[] = [];

  const globalDone = (s: number) => {
    let m = Infinity;
    for (let t = 0; t < T; t++) { const d = Atomics.load(shared, M + t * M + s); if (d < m) m = d; }
    return m;
  };
  const sendFrom = (c: Conn) => {
    const s = c.index;
    const seq = Atomics.load(shared, s);
    fmt.write(out, 0, s, seq, nowUs());
    c.sendData(o.binary, out);
    Atomics.store(shared, s, seq + 1);
    counters.sent++;
    perTarget[targetOf(s)].sent++;
    counters.bytesOut += o.size;
  };
  /** Closed loop: every local sender sends while it has fewer than the window outstanding. */
  const pump = () => {
    if (!sending || o.rate !== null) return;
    for (const c of localSenders) {
      if (c.state !== ConnState.OPEN) continue;
      const s = c.index;
      const g = globalDone(s);
      let sent = Atomics.load(shared, s);
      while (sent - g < R) { sendFrom(c); sent++; }
    }
  };
  const advance = (s: number) => {
    let d = localDone[s];
    let moved = false;
    while (counts[s * R + (d % R)] >= openReceivers && d < Atomics.load(shared, s)) {
      counts[s * R + (d % R)] = 0;
      d++;
      moved = true;
    }
    if (moved) {
      localDone[s] = d;
      Atomics.store(shared, doneBase + s, d);
    }
    return moved;
  };
  completedNow = () => {
    let total = 0;
    for (let s = 0; s < M; s++) total += globalDone(s);
    return total;
  };
  const allDelivered = () => {
    for (let s = 0; s < M; s++) if (localDone[s] < Atomics.load(shared, s)) return false;
    return true;
  };
  const conns = openMany(n, 0, 128, {
    onOpen(c) {
      openReceivers++;
      if (c.index < M) localSenders.push(c);
    },
    onConnectFailed() {},
    onMessage(c, binary, bytes) {
      const now = nowUs();
      if (binary !== o.binary) { mismatch(c, `a broadcast came as ${binary ? 'binary' : 'text'}`); return; }
      const v = fmt.read(bytes);
      if (v !== Verdict.OK) { mismatch(c, `broadcast: ${VERDICT_TEXT[v]} (${bytes.length} bytes)`); return; }
      const s = fmt.id, seq = fmt.seq;
      if (s >= M) { mismatch(c, `broadcast from unknown sender ${s}`); return; }
      const e = slotOf(c) * M + s;
      const want = expected[e];
      if (seq < want) { mismatch(c, `duplicate or old broadcast ${seq} of sender ${s} (expected ${want})`); return; }
      if (seq >= Atomics.load(shared, s)) { mismatch(c, `broadcast ${seq} of sender ${s} was never sent`); return; }
      if (seq > want) {
        mismatch(c, `broadcast ${want}..${seq - 1} of sender ${s} missing (got ${seq})`);
        for (let q = want; q < seq && q < want + R; q++) counts[s * R + (q % R)]++;
      }
      expected[e] = seq + 1;
      counts[s * R + (seq % R)]++;
      counters.received++;
      counters.bytesIn += bytes.length;
      const k = targetOf(c.index);
      perTarget[k].received++;
      perTarget[k].bytesIn += bytes.length;
      if (recording) hists[k].record(((now - fmt.time) >>> 0) * 1000);
      if (advance(s)) {
        pump();
        if (drainDone && allDelivered()) drainDone();
      }
    },
    onProtocolError,
    onClosed,
  }, o.size + 1024, () => post({ type: 'ready', ...snapshot() }));
  afterClose = (c) => {
    if (c.openedAt > 0) openReceivers--;
    let moved = false;
    for (let s = 0; s < M; s++) if (advance(s)) moved = true;
    if (moved) pump();
    if (drainDone && allDelivered()) drainDone();
  };

  let poll: NodeJS.Timeout | null = null;
  handlers.go = () => {
    sending = true;
    if (o.rate === null) {
      pump();
      // Other threads' receivers also hold senders back: look at their progress every millisecond.
      if (T > 1) poll = setInterval(pump, 1);
      return;
    }
    // Fixed rate: this thread's share of the rate, spread over its senders in turn.
    const share = o.rate * (localSenders.length / M);
    const start = performance.now();
    let sentHere = 0, turn = 0;
    poll = setInterval(() => {
      if (!sending || localSenders.length === 0) return;
      const due = Math.floor(((performance.now() - start) / 1000) * share);
      let budget = Math.min(due - sentHere, 1 + share / 10); // no burst over 100 ms worth
      while (budget-- > 0) {
        const c = localSenders[turn++ % localSenders.length];
        sentHere++;
        if (c.state !== ConnState.OPEN) continue;
        if (Atomics.load(shared, c.index) - globalDone(c.index) >= R) { counters.skipped++; continue; }
        sendFrom(c);
      }
      if (due - sentHere > share) { counters.skipped += due - sentHere; sentHere = due; }
    }, 1);
  };
  handlers.stop = () => {
    sending = false;
    if (poll) clearInterval(poll);
    report('stopped');
  };
  handlers.drain = (deadlineMs) => {
    let finished = false;
    const end = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      let lost = 0;
      for (const c of conns) {
        if (c.state !== ConnState.OPEN) continue;
        for (let s = 0; s < M; s++) lost += Atomics.load(shared, s) - expected[slotOf(c) * M + s];
      }
      if (lost > 0) sampleError(`${lost} broadcast deliveries missing ${deadlineMs} ms after the end`);
      closeAll(conns, () => finish({ lost: counters.lost + lost }));
    };
    const timer = setTimeout(end, deadlineMs);
    drainDone = end;
    for (let s = 0; s < M; s++) advance(s);
    if (allDelivered()) end();
  };
}

// ---------------------------------------------------------------------------------------------
// connect

function runConnect(): void {
  const loops = localCount(o.inFlight);
  let running = 0;
  let phaseDone: (() => void) | null = null;
  const loopEvents: ConnEvents = {
    onOpen(c) {
      const k = targetOf(c.index);
      counters.opened++;
      counters.handshakes++;
      perTarget[k].opened++;
      perTarget[k].handshakes++;
      if (recording) hists[k].record((c.openedAt - c.connectStart) * 1e6);
      c.close();
    },
    onConnectFailed(c, reason) {
      counters.connectFailed++;
      perTarget[targetOf(c.index)].connectFailed++;
      sampleError(`handshake ${c.index}: connect failed: ${reason}`);
      // Do not spin on a refusing server.
      setTimeout(next, 10);
    },
    onMessage(c) { mismatch(c, 'a message on a connection that sent none'); },
    onProtocolError,
    onClosed(c, requested, clean, detail) {
      onClosed(c, requested, clean, detail);
      next();
    },
  };
  let serial = 0;
  const startOne = () => {
    const index = me + (serial++) * T;
    new Conn(index, o.targets[targetOf(index)], framing, loopEvents, 65536, o.deflate).connect();
  };
  function next(): void {
    if (sending) { startOne(); return; }
    running--;
    if (running === 0 && phaseDone) phaseDone();
  }
  handlers.go = () => {
    sending = true;
    running = loops;
    for (let i = 0; i < loops; i++) startOne();
  };
  handlers.stop = () => {
    sending = false;
    // The window ends now; handshakes still under way finish before the idle phase starts.
    const atStop = snapshot();
    phaseDone = () => { phaseDone = null; post({ type: 'stopped', ...atStop }); };
    if (running === 0) phaseDone();
  };
  let idle: Conn[] = [];
  handlers.idle = () => {
    idle = openMany(localCount(o.connections), 0, Math.max(1, loops), {
      onOpen() { counters.idleOpened++; }, onConnectFailed() {},
      onMessage(c) { mismatch(c, 'a message on an idle connection'); },
      onProtocolError, onClosed,
    }, 65536, () => post({ type: 'idleOpen', ...snapshot() }));
  };
  handlers.idleClose = () => closeAll(idle, () => post({ type: 'idleClosed', ...snapshot() }));
  handlers.drain = () => finish();
  post({ type: 'ready', ...snapshot() });
}

// ---------------------------------------------------------------------------------------------

const handlers: {
  go?: () => void;
  stop?: () => void;
  drain?: (deadlineMs: number) => void;
  idle?: () => void;
  idleClose?: () => void;
} = {};

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'go': handlers.go?.(); break;
    case 'mark': hists = o.targets.map(() => new Histogram()); recording = true; report('marked'); break;
    case 'stop': recording = false; handlers.stop?.(); break;
    case 'drain': handlers.drain?.(m.deadlineMs); break;
    case 'idle': handlers.idle?.(); break;
    case 'idleClose': handlers.idleClose?.(); break;
  }
});

if (o.mode === 'echo') runEcho();
else if (o.mode === 'broadcast') runBroadcast();
else runConnect();
