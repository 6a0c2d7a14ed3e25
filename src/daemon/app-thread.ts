// An app thread: loads one app module, consumes the inbound ring of every worker, runs the app's
// callbacks strictly one at a time, and turns its sends into outbound ring records.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { instantiateCore, type Core } from '../core/wasm.ts';
import { Ring, WakeWord } from '../core/ring.ts';
import { CloseCode, Opcode, DataKind } from '../core/codes.ts';
import { createLogger, logProcessWarnings, type Logger, type LogLevel } from '../log.ts';
import type { Config } from '../config/types.ts';
import { APP_BEAT_OFFSET, APP_HOOK_OFFSET, APP_STOP_OFFSET, type DaemonLayout } from './layout.ts';
import {
  Inbound, Outbound, IN_HEADER_SIZE, IN_CLIENT_ID, OUT_HEADER_SIZE, OUT_STAMP, OUT_COUNT, readPeerAddress, workerOfClient,
  OPEN_SUBPROTOCOL, UPGRADE_HEAD, OUT_UPGRADE_STATUS, UPGRADE_REPLY_SIZE,
} from './records.ts';
import { parseRequestHead } from '../http/parse.ts';
import { frameHeaderSize } from '../core/codec.ts';
import { createAppRuntime, type AppHost, type Recipients } from '../app/runtime.ts';
import { MetricsBlock } from '../metrics/block.ts';
import { monitorLoop } from '../metrics/monitor.ts';
import { nodeOfClient } from '../cluster/ids.ts';
import { Outbox } from '../cluster/outbox.ts';
import { ClusterLink } from '../cluster/link.ts';
import { batchNode, decodeBatch, Remote, type RemoteEntry, type RemoteKind } from '../cluster/batch.ts';
import { RateLimitedLog } from '../cluster/rate-log.ts';

export interface AppThreadInit {
  index: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  config: Config;
  layout: DaemonLayout;
  /** Random, one per daemon process: its claim on its cluster node number (src/cluster/link.ts). */
  runToken: string;
}

const init = workerData as AppThreadInit;
const config = init.config;
const appIndex = init.index;
const appConf = config.apps[appIndex];
const log: Logger = createLogger(appConf.name, config.log_level, { format: config.log_format, app: appConf.name });
logProcessWarnings(log);
const core: Core = instantiateCore(init.module, init.memory);
const u8 = core.u8;
/** The shared memory's buffer, read once (`.buffer` of a shared view is a call into C++). */
const sharedBuffer = u8.buffer;
const dv = core.dv;
const u32 = core.u32;
const f64 = new Float64Array(core.memory.buffer);
const W = config.worker_c;
const wake = new WakeWord(core, init.layout.apps[appIndex].wake);
// This thread's event-loop delay, in its own metrics block (src/metrics/monitor.ts).
const metrics = new MetricsBlock(core.memory.buffer, init.layout.metrics.apps[appIndex], init.layout.metrics.layout);
if (config.metrics) monitorLoop(metrics);
/**
 * The app's heartbeat (ms since the epoch), beside its wake word: written every time the loop
 * comes round (at least once a second) and while it waits for outbound room. The main thread
 * restarts an app whose heartbeat is older than app_stall_timeout (a callback that never returns).
 */
const beat = new Float64Array(core.memory.buffer, init.layout.apps[appIndex].wake + APP_BEAT_OFFSET, 1);
beat[0] = Date.now();
/** Set by the main thread to stop this app (layout.ts APP_STOP_OFFSET). */
const stopFlag = new Int32Array(core.memory.buffer, init.layout.apps[appIndex].wake + APP_STOP_OFFSET, 1);
const stopRequested = () => Atomics.load(stopFlag, 0) !== 0;
/** The answer to an upgrade whose record could not be handled (a bug): 500 Internal Server Error. */
const HTTP_INTERNAL_ERROR = 500;
/** How long one blocking wait for outbound room lasts before the stop flag is looked at again. */
const OUT_WAIT_SLICE_MS = 100;
let droppedOnStop = false;
const inRings: Ring[] = [];
const outRings: Ring[] = [];
for (let w = 0; w < W; w++) {
  inRings.push(new Ring(core, init.layout.inbound[w][appIndex].header));
  outRings.push(new Ring(core, init.layout.outbound[w][appIndex].header));
}
/** Inbound records consumed so far, per worker: the stamp of outbound records. */
const consumed: number[] = new Array(W).fill(0);
/**
 * acks[w]: this app's acknowledgement word in worker w's region (layout.ts WorkerRegion.acks): the
 * inbound records handled, stored after what their callbacks sent is published, so a worker that
 * reads it and then drains its outbound ring has every reply to those records (its strict close
 * ordering waits for this). A new thread of the app starts it at 0, as the worker's count does.
 */
const acks: Int32Array[] = [];
for (let w = 0; w < W; w++) {
  acks.push(new Int32Array(core.memory.buffer, init.layout.workers[w].acks + appIndex * 4, 1));
  Atomics.store(acks[w], 0, 0);
}

// ---------------------------------------------------------------------------------------------
// The cluster (issue 13): what this app instance sends to other nodes' clients is gathered in the
// outbox and published once per batch (publishOut); what other nodes' instances of this app send
// to this node's clients arrives through the link and is written to the outbound rings here.

const cluster = config.cluster;
/** This daemon's node number: 0 alone (src/cluster/ids.ts). */
const myNode = cluster?.node_number ?? 0;
const outbox = cluster ? new Outbox(myNode) : null;
let link: ClusterLink | null = null;

const NO_IDS: readonly number[] = [];
/** The recipient list of a local single send, reused (writeOut copies the ids into the record). */
const ONE_ID: number[] = [0];

/** Whether `id` is a client of another node of the cluster. */
function isRemote(id: number): boolean {
  if (!outbox || !Number.isSafeInteger(id) || id <= 0) return false;
  const n = nodeOfClient(id);
  return n !== myNode && n !== 0;
}

/** The ids of other nodes' clients among `ids`. */
function remoteIds(ids: readonly number[]): number[] {
  const out: number[] = [];
  for (const id of ids) if (isRemote(id)) out.push(id);
  return out;
}

/** Adds an entry for other nodes (cluster only); published with the batch's records. */
function toRemote(kind: RemoteKind, opcode: number, ids: readonly number[], payload: Uint8Array): void {
  if (!outbox) return;
  if (outbox.add(kind, opcode, ids, payload)) flushRemote();
  else queuePublish();
}

function flushRemote(): void {
  if (!outbox || outbox.empty) return;
  for (const p of outbox.take()) {
    // No link yet (a send before the thread said ready): dropped like any publication without Redis.
    if (link) link.publish(p);
    else metrics.clusterDropped(p.bytes.length);
  }
}

/** Writes what another node's instance of this app sent (one entry of its batch) for this node's clients. */
function deliverRemote(e: RemoteEntry): void {
  switch (e.kind) {
    case Remote.EVERY:
      sendLocal(Outbound.EVERY, e.opcode, null, e.payload);
      break;
    case Remote.EVERY_EXCEPT:
      sendLocal(Outbound.EVERY_EXCEPT, e.opcode, e.ids, e.payload);
      break;
    case Remote.TO:
      sendLocal(Outbound.MULTI, e.opcode, e.ids, e.payload);
      break;
    case Remote.CLOSE:
      // As an rs.close() here: the worker closes the client, and this instance runs its close
      // callback (the worker sends no CLOSE record for a client the app closed).
      if (validWorker(e.ids[0]) >= 0) runtime.closeFromPeer(e.ids[0], (e.payload[0] << 8) | e.payload[1]);
      break;
  }
}

/** A batch from another node (ClusterLink.onBatch): delivered, then published at once. */
function onRemoteBatch(bytes: Uint8Array): void {
  // This node's own broadcasts come back on the channel every node reads: they were delivered here
  // already (and are not even decoded).
  if (batchNode(bytes) === myNode) return;
  const batch = decodeBatch(bytes);
  for (const e of batch.entries) {
    try {
      deliverRemote(e);
    } catch (err) {
      undelivered.say(`cluster: a message from node ${batch.node} could not be delivered: ${(err as Error).message}`);
    }
  }
  publishOut();
}
const undelivered = new RateLimitedLog(log, 'error');

// ---------------------------------------------------------------------------------------------
// Outbound records

/** Reserves room in worker w's outbound ring, waiting (the app's back-pressure) while it is full. */
function reserveOut(w: number, size: number): number {
  const ring = outRings[w];
  let ptr = ring.reserve(size);
  if (ptr !== 0) return ptr;
  // Full: the worker can only free room for records it can see.
  publishOut();
  const started = Date.now();
  let warned = started;
  for (;;) {
    // Stopping: the worker may be gone already; the record is dropped (and every later one at once).
    if (stopRequested()) {
      droppedOnStop = true;
      return 0;
    }
    ptr = ring.reserveBlocking(size, wake, OUT_WAIT_SLICE_MS);
    // This may run while the main loop waits on the same word (from a timer or a settling promise):
    // reserveBlocking leaves it AWAKE, so the loop's wait would end only at the next heartbeat.
    wake.poke();
    const now = Date.now();
    beat[0] = now; // waiting for room is back-pressure, not a stall
    if (ptr !== 0) return ptr;
    if (now - warned >= 1000) {
      warned = now;
      log.warning(`outbound ring of worker#${w} full for ${((now - started) / 1000).toFixed(0)}s: waiting`);
    }
  }
}

function writeOut(w: number, kind: number, ids: readonly number[] | null, opcode: number, payload: Uint8Array): void {
  const n = ids ? ids.length : 0;
  const h = frameHeaderSize(payload.length, false);
  const fixed = OUT_HEADER_SIZE + h + payload.length;
  const room = outRings[w].maxRecord - fixed;
  if (n * 8 > room) {
    // A recipient list too long for one record: a MULTI splits into several records; an
    // exclusion list cannot be split.
    const perRecord = Math.floor(room / 8);
    if ((kind !== Outbound.MULTI && kind !== Outbound.SINGLE) || perRecord < 1) {
      throw new RangeError(`a ${payload.length}-byte message with ${n} excluded clients does not fit one outbound ring record (${outRings[w].maxRecord} bytes): raise outbound_ring_buf_size`);
    }
    for (let i = 0; i < n; i += perRecord) writeOut(w, Outbound.MULTI, ids!.slice(i, i + perRecord), opcode, payload);
    return;
  }
  const size = fixed + n * 8;
  const ptr = reserveOut(w, size);
  if (ptr === 0) return;
  u8[ptr] = kind;
  u8[ptr + 1] = 0;
  u8[ptr + 2] = 0;
  u8[ptr + 3] = 0;
  // Record payloads are 4 mod 8: the stamp and the ids are 8-byte aligned (records.ts).
  f64[(ptr + OUT_STAMP) >>> 3] = consumed[w];
  u32[(ptr + OUT_COUNT) >>> 2] = n;
  u32[(ptr + OUT_COUNT + 4) >>> 2] = 0;
  let at = ptr + OUT_HEADER_SIZE;
  for (let i = 0; i < n; i++, at += 8) f64[at >>> 3] = ids![i];
  // The core encodes the (unmasked, FIN) header in place; the payload follows it.
  at += core.exports.encodeFrameHeader(at, opcode, 1, payload.length, 0, 0);
  if (payload.buffer === sharedBuffer) core.exports.copy(at, payload.byteOffset, payload.length);
  else u8.set(payload, at);
  // Staged: the batch's records become visible together in publishOut (one atomic store and at
  // most one wake-up of the worker per batch).
  stageOut(w, size);
}

/**
 * Stages a written record. A drain's records are published together at its end (drainOnce); a
 * record staged anywhere else (an async upgrade hook settling, from a microtask or the app's own
 * timer) would otherwise wait for the next loop turn, up to a second while the app is idle: the
 * microtask publishes it right after the code that staged it. (Within a drain it finds nothing
 * left to publish.)
 */
function stageOut(w: number, size: number): void {
  outRings[w].stage(size);
  outStaged[w] = true;
  queuePublish();
}
function queuePublish(): void {
  if (!publishQueued) {
    publishQueued = true;
    queueMicrotask(publishQueuedOut);
  }
}
let publishQueued = false;
const publishQueuedOut = (): void => {
  publishQueued = false;
  publishOut();
};

/** The upgrade hook's answer for client `id` (records.ts UPGRADE_REPLY). */
function writeUpgradeReply(id: number, status: number): void {
  const w = validWorker(id);
  if (w < 0) return;
  const ptr = reserveOut(w, UPGRADE_REPLY_SIZE);
  if (ptr === 0) return;
  u8[ptr] = Outbound.UPGRADE_REPLY;
  u8[ptr + 1] = 0;
  dv.setUint16(ptr + OUT_UPGRADE_STATUS, status, true);
  f64[(ptr + OUT_STAMP) >>> 3] = consumed[w];
  u32[(ptr + OUT_COUNT) >>> 2] = 1;
  u32[(ptr + OUT_COUNT + 4) >>> 2] = 0;
  f64[(ptr + OUT_HEADER_SIZE) >>> 3] = id;
  stageOut(w, UPGRADE_REPLY_SIZE);
}

/** Workers whose outbound ring has staged, unpublished records. */
const outStaged: boolean[] = new Array(W).fill(false);

/** Publishes every outbound ring's staged records, and the batch for other nodes. */
function publishOut(): void {
  for (let w = 0; w < W; w++) {
    if (!outStaged[w]) continue;
    outStaged[w] = false;
    outRings[w].publish();
  }
  flushRemote();
}

/** The worker of one of this node's client ids, or -1 (not an id, or another node's). */
function validWorker(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) return -1;
  // A daemon alone has no node bits (its serials may run past them): only a cluster node checks them.
  if (myNode !== 0 && nodeOfClient(id) !== myNode) return -1;
  const w = workerOfClient(id);
  return w >= 0 && w < W ? w : -1;
}

/** Groups ids by worker, dropping invalid ones. */
function byWorker(ids: readonly number[]): number[][] {
  const groups: number[][] = Array.from({ length: W }, () => []);
  for (const id of ids) {
    const w = validWorker(id);
    if (w >= 0) groups[w].push(id);
  }
  return groups;
}

/**
 * Writes a message for this node's clients. SINGLE / MULTI: the listed ids of this node, one
 * record per worker that has any (other ids are dropped); EVERY: every worker; EVERY_EXCEPT: every
 * worker, with the ids it owns excluded.
 */
function sendLocal(kind: number, opcode: number, ids: readonly number[] | null, payload: Uint8Array): void {
  if (kind === Outbound.EVERY) {
    for (let w = 0; w < W; w++) writeOut(w, Outbound.EVERY, null, opcode, payload);
    return;
  }
  if (ids!.length === 1) {
    const w = validWorker(ids![0]);
    if (kind !== Outbound.EVERY_EXCEPT) {
      if (w >= 0) writeOut(w, Outbound.SINGLE, ids!, opcode, payload);
      return;
    }
    for (let x = 0; x < W; x++) {
      if (x === w) writeOut(x, Outbound.EVERY_EXCEPT, ids!, opcode, payload);
      else writeOut(x, Outbound.EVERY, null, opcode, payload);
    }
    return;
  }
  const groups = byWorker(ids!);
  for (let w = 0; w < W; w++) {
    if (kind === Outbound.EVERY_EXCEPT) {
      if (groups[w].length) writeOut(w, Outbound.EVERY_EXCEPT, groups[w], opcode, payload);
      else writeOut(w, Outbound.EVERY, null, opcode, payload);
    } else if (groups[w].length) writeOut(w, groups[w].length === 1 ? Outbound.SINGLE : Outbound.MULTI, groups[w], opcode, payload);
  }
}

/** A close frame's body: the code, big-endian. */
function closeBody(code: number): Uint8Array {
  return new Uint8Array([code >>> 8, code & 0xff]);
}

const appRegion = init.layout.apps[appIndex];
const host: AppHost = {
  appName: appConf.name,
  config,
  // The write buffer in the shared memory: a message reaches the ring with one memory.copy.
  writeArea: {
    memory: u8,
    offset: appRegion.write,
    size: appRegion.writeSize,
    copy: (dst, src, len) => core.exports.copy(dst, src, len),
  },
  send(dataKind, payload, to: Recipients) {
    const opcode = dataKind === DataKind.UTF8 ? Opcode.TEXT : Opcode.BINARY;
    switch (to.kind) {
      case 'single':
        if (isRemote(to.id)) toRemote(Remote.TO, opcode, [to.id], payload);
        else {
          ONE_ID[0] = to.id;
          sendLocal(Outbound.SINGLE, opcode, ONE_ID, payload);
        }
        break;
      case 'multi':
        sendLocal(Outbound.MULTI, opcode, to.ids, payload);
        if (outbox) {
          const remote = remoteIds(to.ids);
          if (remote.length) toRemote(Remote.TO, opcode, remote, payload);
        }
        break;
      case 'every':
        sendLocal(Outbound.EVERY, opcode, null, payload);
        if (outbox) toRemote(Remote.EVERY, opcode, NO_IDS, payload);
        break;
      case 'every_except_single':
        sendLocal(Outbound.EVERY_EXCEPT, opcode, [to.id], payload);
        if (outbox) {
          const remote = isRemote(to.id);
          toRemote(remote ? Remote.EVERY_EXCEPT : Remote.EVERY, opcode, remote ? [to.id] : NO_IDS, payload);
        }
        break;
      case 'every_except_multi':
        sendLocal(Outbound.EVERY_EXCEPT, opcode, to.ids, payload);
        if (outbox) {
          const remote = remoteIds(to.ids);
          toRemote(remote.length ? Remote.EVERY_EXCEPT : Remote.EVERY, opcode, remote, payload);
        }
        break;
    }
  },
  closeClient(id, code) {
    const w = validWorker(id);
    if (w >= 0) writeOut(w, Outbound.CLOSE_CLIENT, [id], Opcode.CLOSE, closeBody(code));
  },
  closeRemote(id, code) {
    if (!isRemote(id)) return false;
    toRemote(Remote.CLOSE, Opcode.CLOSE, [id], closeBody(code));
    return true;
  },
  log(level: LogLevel, message: string) {
    log[level](message);
  },
  upgradeReply: writeUpgradeReply,
};

// An error in the app's own asynchronous code (a rejected promise, a throwing timer of its own)
// is logged with the app's name; it never ends the app thread, let alone the daemon.
process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection in the app', reason));
process.on('uncaughtException', (err) => log.error('uncaught exception in the app', err));

// An app must not end its own thread: the worker threads would go on queueing its clients'
// messages for nobody. process.exit() throws instead (inside a callback: logged, and that client
// is closed with 1011, like any error).
const exitThread = process.exit.bind(process);
process.exit = ((code?: number | string | null) => {
  throw new Error(`an app may not end its thread (process.exit(${code ?? ''}) called); return -1 or throw to report an error`);
}) as typeof process.exit;

// ---------------------------------------------------------------------------------------------
// Loading

let runtime: ReturnType<typeof createAppRuntime>;
try {
  const mod = await import(pathToFileURL(appConf.app_path).href);
  if (!mod.default) throw new Error(`${appConf.app_path} has no default export (export default defineApp({...}))`);
  runtime = createAppRuntime(mod.default, host);
  const ok = runtime.init();
  if (ok === false) throw new Error('init callback failed');
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: `app ${appConf.name}: ${(err as Error).stack ?? err}` });
  exitThread(1);
}

// ---------------------------------------------------------------------------------------------
// The loop

const BATCH = 256;
/** How often the heartbeat tick brings an idle loop round: well inside app_stall_timeout (a reload may change it). */
const heartbeatMs = (stallS: number) => stallS > 0 ? Math.min(1000, (stallS * 1000) / 4) : 1000;
let HEARTBEAT_MS = heartbeatMs(config.app_stall_timeout);

function drainOnce(): number {
  let n = 0;
  for (let w = 0; w < W; w++) {
    const ring = inRings[w];
    for (let i = 0; i < BATCH; i++) {
      const ptr = ring.peek();
      if (ptr === 0) break;
      const size = ring.peekSize();
      // Counted before the callbacks run: what they send is stamped as sent after this record,
      // so an every-send from the open callback reaches the client that just opened.
      consumed[w]++;
      handle(ptr, size);
      ring.consume();
      n++;
    }
    // One atomic store frees the whole batch.
    ring.releaseConsumed();
  }
  publishOut();
  // After the publish: a worker that sees the count sees the replies (wrapping past 2^31 is fine:
  // the worker compares modulo 2^32).
  if (n > 0) for (let w = 0; w < W; w++) Atomics.store(acks[w], 0, consumed[w] | 0);
  return n;
}

function handle(ptr: number, size: number): void {
  const kind = u8[ptr];
  const endpointId = dv.getUint16(ptr + 2, true);
  const id = f64[(ptr + IN_CLIENT_ID) >>> 3];
  try {
    switch (kind) {
      case Inbound.READ:
        runtime.read(id, endpointId, u8[ptr + 1], u8.subarray(ptr + IN_HEADER_SIZE, ptr + size));
        break;
      case Inbound.OPEN:
        runtime.open(id, endpointId, readPeerAddress(u8, dv, ptr + IN_HEADER_SIZE), subprotocolOf(endpointId, u8[ptr + OPEN_SUBPROTOCOL]));
        break;
      case Inbound.CLOSE:
        runtime.close(id, endpointId);
        break;
      case Inbound.UPGRADE: {
        // The worker parsed and validated this head already; here it is parsed for the hook.
        const head = parseRequestHead(u8.subarray(ptr + UPGRADE_HEAD, ptr + size));
        if (!head.ok) throw new Error(`the request head of an upgrade record does not parse (${head.code})`);
        runtime.upgrade(id, endpointId, readPeerAddress(u8, dv, ptr + IN_HEADER_SIZE), subprotocolOf(endpointId, u8[ptr + OPEN_SUBPROTOCOL]), head);
        break;
      }
      default:
        log.error(`unknown inbound record kind ${kind}`);
    }
  } catch (err) {
    // The runtime catches the app's own errors; this is a last line of defence.
    log.error(`unexpected error handling a record of client ${id}: ${(err as Error).stack ?? err}`, undefined, { client: id });
    if (kind === Inbound.UPGRADE) writeUpgradeReply(id, HTTP_INTERNAL_ERROR);
    else if (kind !== Inbound.CLOSE) host.closeClient(id, CloseCode.INTERNAL_ERROR);
  }
}

/** Each endpoint's subprotocols, by endpoint id: an OPEN record names one by index + 1. */
const endpointSubprotocols = new Map<number, readonly string[]>(appConf.endpoints.map((e) => [e.endpoint_id, e.subprotocols ?? []]));

/** The subprotocol an OPEN (or UPGRADE) record names: `byte` is its index + 1, 0 for none. */
function subprotocolOf(endpointId: number, byte: number): string | null {
  return byte === 0 ? null : (endpointSubprotocols.get(endpointId)?.[byte - 1] ?? null);
}

function anyInbound(): boolean {
  for (let w = 0; w < W; w++) if (inRings[w].peek() !== 0) return true;
  return false;
}

// Timer: the runtime says when it wants to be called (ms since epoch), and whether it may wake
// an idle app.
let timerAt = 0;
let timerWakes = false;
function armTimer(us: number): void {
  timerAt = us > 0 ? performance.now() + us / 1000 : 0;
}
const spec = runtime!.timerSpec;
if (spec) {
  timerWakes = spec.mode === 'wake';
  armTimer(spec.firstUs);
}
let trafficSinceTimer = false;

// The loop below waits without a timeout (a timeout per wait is costly: WakeWord.waitAsync), so
// two timers wake it instead: the heartbeat tick, which brings an idle loop round every
// HEARTBEAT_MS to store the heartbeat, and the app timer's deadline (armWakeAt). They poke() the
// word: a timer that fires while the loop is busy only makes it come round once more.
const startHeartbeat = () => setInterval(() => wake.poke(), HEARTBEAT_MS);
let heartbeatTick = startHeartbeat();
/** The loop has ended: a reload arriving after that must not start the heartbeat again. */
let loopEnded = false;
let wakeTimer: NodeJS.Timeout | null = null;
let wakeTimerAt = 0;
/** Wakes the loop at `at` (performance.now() ms), or at no particular time (0). */
function armWakeAt(at: number): void {
  if (at === wakeTimerAt) return;
  if (wakeTimer !== null) clearTimeout(wakeTimer);
  wakeTimerAt = at;
  wakeTimer = at === 0 ? null : setTimeout(() => {
    wakeTimer = null;
    wakeTimerAt = 0;
    wake.poke();
  }, Math.max(0, at - performance.now()));
}

function runTimerIfDue(): void {
  if (timerAt === 0 || performance.now() < timerAt) return;
  if (!timerWakes && !trafficSinceTimer) return;
  trafficSinceTimer = false;
  armTimer(runtime.timer());
  publishOut();
}

// The main thread stops an app through its stop flag (it reaches a thread blocked in Atomics.wait,
// where a message would not). This listener also keeps the thread's event loop alive while the
// loop below awaits waitAsync (a pending waitAsync does not). Its one message is a reload
// (src/daemon/reload.ts): the log level and format, and the heartbeat period for app_stall_timeout. The
// app keeps the config it started with (AppHost.config, rs.config).
parentPort!.on('message', (m: { type?: string; id?: number; config?: Config }) => {
  if (m?.type !== 'reconfigure' || !m.config) return;
  try {
    log.configure({ level: m.config.log_level, format: m.config.log_format });
    HEARTBEAT_MS = heartbeatMs(m.config.app_stall_timeout);
    clearInterval(heartbeatTick);
    if (!loopEnded) heartbeatTick = startHeartbeat();
    parentPort!.postMessage({ type: 'reconfigured', id: m.id });
  } catch (err) {
    parentPort!.postMessage({ type: 'reconfigured', id: m.id, error: (err as Error).message });
  }
});

// Workers look for the upgrade hook in the wake line (layout.ts APP_HOOK_OFFSET) at every handshake;
// stored before 'ready', since workers start (or, after a restart, take this app's clients again)
// only after it.
Atomics.store(new Int32Array(core.memory.buffer, init.layout.apps[appIndex].wake + APP_HOOK_OFFSET, 1), 0, runtime!.hasUpgradeHook ? 1 : 0);

parentPort!.postMessage({ type: 'ready' });

if (cluster) {
  link = new ClusterLink({ cluster, appName: appConf.name, log, runToken: init.runToken, onBatch: onRemoteBatch, metrics });
  link.start();
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

while (!stopRequested()) {
  beat[0] = Date.now();
  const n = drainOnce();
  if (n > 0) trafficSinceTimer = true;
  runTimerIfDue();
  if (n > 0) {
    // Let the app's own promises and I/O run between batches.
    await yieldToLoop();
    continue;
  }
  wake.prepareSleep();
  if (anyInbound() || stopRequested()) {
    wake.cancelSleep();
    continue;
  }
  // Idle: heartbeatTick still brings the loop round often enough to keep the heartbeat well inside
  // app_stall_timeout, and a due app timer wakes it.
  armWakeAt(timerAt !== 0 && (timerWakes || trafficSinceTimer) ? timerAt : 0);
  await wake.waitAsync();
}
loopEnded = true;
clearInterval(heartbeatTick);
armWakeAt(0);
await link?.close();
// A note rides on the answer: the thread's own log lines may not get out before it is ended.
parentPort!.postMessage({
  type: 'stopped',
  ...(droppedOnStop ? { note: 'it was waiting for outbound room when asked to stop; what it still sent was dropped' } : {}),
});
