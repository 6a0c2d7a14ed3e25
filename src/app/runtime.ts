// The app runtime: runs one app's callbacks for the app thread (src/daemon/app-thread.ts), which
// calls init() once, then open / read / close for every inbound ring record and timer() when the
// timer is due. The runtime validates every read against the schema before the callback runs,
// implements the `rs` helpers, and talks back through an AppHost (send, closeClient, log).
//
// Guarantees (README.md, "Writing an app", has the long form):
// - The close callback runs exactly once for every client the runtime saw open: when the daemon
//   reports the close, or right after the runtime closed the client itself (49xx, 1011, an app
//   code, rs.close). A READ or CLOSE record for a client the runtime already closed is ignored.
// - A callback that throws or returns -1 is logged; its client (if any) is closed with 1011; the
//   app keeps serving. Nothing an app does throws out of these methods (except host failures).
// - Sends reach the host in the order they are made; exclusion lists are passed on as given
//   (deduplicated), and toMulti sends once per distinct id.
import { isUtf8 } from 'node:buffer';
import { CloseCode, DataKind } from '../core/codes.ts';
import { describeCause, LOG_LEVELS, logLevelRank, type LogLevel } from '../log.ts';
import type { Config } from '../config/types.ts';
import { AppErrorCode, RingSocketAppError } from './errors.ts';
import { isApp, ReadKind, type App, type ReadCase } from './define.ts';
import { CompiledSchema } from './schema.ts';
import { WriteBuffer, type WriteArea } from './writer.ts';
import type { CallbackResult, ClientAddr, ClientIdLike, DeepReadonly, Rs } from './types.ts';
import { UPGRADE_ACCEPTED, UPGRADE_FAILED_STATUS, upgradeRequest, upgradeStatus, type UpgradeHead } from './upgrade.ts';

/** Who receives a message. Only valid during the host.send() call (the runtime reuses it). */
export type Recipients =
  | { kind: 'single'; id: number }
  | { kind: 'multi'; ids: readonly number[] }
  | { kind: 'every' }
  | { kind: 'every_except_single'; id: number }
  | { kind: 'every_except_multi'; ids: readonly number[] };

/** What the app thread provides to the runtime. */
export interface AppHost {
  /** The app's configured name (the host prefixes its log lines with it). */
  readonly appName: string;
  /** The resolved config; the runtime reads max_ws_msg_size, log_level and this app's wbuf_size. */
  readonly config: Readonly<Config>;
  /** One message to `to`. `payload` and `to` are only valid during the call: copy, don't keep. */
  send(dataKind: DataKind, payload: Uint8Array, to: Recipients): void;
  /**
   * Close a client with `code` (4000-4899 from the app, 4900-4902 for a read that does not fit
   * the schema, 1011 after an app error). The daemon then sends no CLOSE record for it.
   */
  closeClient(clientId: number, code: number): void;
  /**
   * rs.close() of an id that is not one of this instance's open clients: a cluster host forwards it
   * when the id is another node's client (true), else ignores it (false). Absent: ignored.
   */
  closeRemote?(clientId: number, code: number): boolean;
  /** One log line from the app (already filtered by log_level). */
  log(level: LogLevel, message: string): void;
  /**
   * The upgrade hook's answer for a pending client (AppRuntime.upgrade): 0 opens it, a status
   * 400-599 refuses it. Called when the hook settles, which for an async hook is outside any
   * runtime method: the host must make it reach the daemon promptly. Only apps with a hook use it.
   */
  upgradeReply?(clientId: number, status: number): void;
  /**
   * Where the write buffer lives: a region of the shared memory the host sends from (writer.ts
   * WriteArea). Absent: a private array of wbuf_size bytes.
   */
  readonly writeArea?: WriteArea | null;
}

export interface TimerSpec {
  readonly mode: 'sleep' | 'wake';
  /** Microseconds after start until the first call. */
  readonly firstUs: number;
}

export interface AppRuntime {
  /** The app's timer, or null: when to call timer() first, and whether it may wake an idle app. */
  readonly timerSpec: TimerSpec | null;
  /** Clients currently open from the app's point of view. */
  readonly clientCount: number;
  /** Whether the app has an upgrade hook (the daemon then sends every handshake to upgrade()). */
  readonly hasUpgradeHook: boolean;
  /** Handshakes whose hook runs, or that were accepted and whose open has not come yet. */
  readonly pendingUpgrades: number;
  /** Runs the init callback. false if it threw or returned -1 (logged). */
  init(): boolean;
  /**
   * A client completed the handshake; `subprotocol` is the one the handshake selected (null: none).
   */
  open(clientId: number, endpointId: number, addr: ClientAddr, subprotocol?: string | null): void;
  /** A complete message; `payload` is only read during the call. */
  read(clientId: number, endpointId: number, dataKind: number, payload: Uint8Array): void;
  /**
   * The daemon reports a client gone (ignored if the runtime closed it already). For a client that
   * was never opened (its handshake waited for the upgrade hook): its pending data is dropped, and
   * no close callback runs.
   */
  close(clientId: number, endpointId: number): void;
  /** Another node's instance of this app closed this client (cluster): as rs.close(clientId, code) here. */
  closeFromPeer(clientId: number, code: number): void;
  /**
   * A handshake for the upgrade hook: runs it, and answers through host.upgradeReply when it
   * settles (at once for a synchronous hook). The client's open() follows an accepting answer.
   */
  upgrade(clientId: number, endpointId: number, addr: ClientAddr, subprotocol: string | null, head: UpgradeHead): void;
  /** Runs the timer callback; returns microseconds until the next call, or 0 for none. */
  timer(): number;
}

const DEFAULT_MAX_MSG = 16 * 1024 * 1024;
const DEFAULT_WBUF = 1024 * 1024;

// Callback kinds, and which of them each helper allows (bit masks over Phase).
const Phase = { NONE: 0, INIT: 1, OPEN: 2, READ: 3, CLOSE: 4, TIMER: 5 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];
const PHASE_NAMES = ['', 'an init', 'an open', 'a read', 'a close', 'a timer'];
const CB_NAMES = ['', 'init', 'open', 'read', 'close', 'timer'];
const SEND = (1 << Phase.OPEN) | (1 << Phase.READ) | (1 << Phase.CLOSE) | (1 << Phase.TIMER);
const CLIENT = (1 << Phase.OPEN) | (1 << Phase.READ) | (1 << Phase.CLOSE);
const CUR = (1 << Phase.OPEN) | (1 << Phase.READ);
const READ_ONLY = 1 << Phase.READ;

const THREW: unique symbol = Symbol('threw');

interface ClientEntry {
  readonly endpointId: number;
  readonly addr: ClientAddr;
  /** The subprotocol the handshake selected, or null. */
  readonly subprotocol: string | null;
  /** rs.clientData(): set by the upgrade hook or rs.setClientData. */
  data: unknown;
}

/** A handshake the upgrade hook decides (or accepted, until its open arrives). */
interface PendingUpgrade {
  /** What req.setClientData set. */
  data: unknown;
  /** The hook has returned or its promise settled: req.setClientData no longer works. */
  settled: boolean;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function describe(err: unknown): string {
  const text = describeCause(err);
  return err instanceof RingSocketAppError ? `[${err.code}] ${text}` : text;
}

function describeReturn(ret: unknown): string {
  if (typeof ret === 'number') return String(ret);
  if (typeof (ret as PromiseLike<unknown> | null)?.then === 'function') {
    return 'a Promise: app callbacks must be synchronous (rs is only usable until the callback returns)';
  }
  return `a ${typeof ret}`;
}

/**
 * The `rs` object of one app: implements every helper, and holds the runtime state they use.
 * Apps only ever see it through the narrower InitRs / OpenRs / ReadRs / CloseRs / TimerRs types.
 */
class AppContext implements Rs {
  phase: Phase = Phase.NONE;
  curId = 0;
  curEndpoint = 0;
  curKind: DataKind = DataKind.BIN;
  curAddr: ClientAddr | null = null;
  /** The current client's entry (open, read, close), else null. */
  curEntry: ClientEntry | null = null;
  /** The current client was closed during this callback. */
  curClosed = false;
  readonly clients = new Map<number, ClientEntry>();
  /** Clients whose close callback is still due, and their entries (pendingEntries[i] is pendingCloses[i]'s). */
  readonly pendingCloses: number[] = [];
  readonly pendingEntries: ClientEntry[] = [];
  readonly wbuf: WriteBuffer;
  readonly host: AppHost;
  private readonly frozenConfig: DeepReadonly<Config>;
  private readonly data: Uint8Array;
  private readonly logRank: number;
  // Reused recipient objects (the host may not keep them).
  private readonly single: { kind: 'single'; id: number } = { kind: 'single', id: 0 };
  private readonly exceptSingle: { kind: 'every_except_single'; id: number } = { kind: 'every_except_single', id: 0 };
  private readonly every: { kind: 'every' } = { kind: 'every' };

  constructor(host: AppHost, appDataSize: number) {
    this.host = host;
    const config = host.config;
    this.frozenConfig = deepFreeze(structuredClone(config)) as DeepReadonly<Config>;
    const appConf = config.apps?.find((a) => a.name === host.appName);
    const limit = config.max_ws_msg_size ?? DEFAULT_MAX_MSG;
    this.wbuf = new WriteBuffer(appConf?.wbuf_size ?? DEFAULT_WBUF, limit, host.writeArea ?? null);
    this.data = new Uint8Array(appDataSize);
    this.logRank = logLevelRank(config.log_level ?? 'notice');
  }

  // ---- phase checks

  private refuse(mask: number, method: string): never {
    if (this.phase === Phase.NONE) {
      throw new RingSocketAppError(
        AppErrorCode.OUTSIDE_CALLBACK,
        `rs.${method}() was called while no callback runs: rs may only be used until the callback returns (not after an await or from a timer of your own)`,
      );
    }
    const allowed: string[] = [];
    for (let p = Phase.INIT; p <= Phase.TIMER; p++) if ((mask >> p) & 1) allowed.push(CB_NAMES[p]);
    const list = allowed.length === 1 ? allowed[0] : `${allowed.slice(0, -1).join(', ')} and ${allowed[allowed.length - 1]}`;
    throw new RingSocketAppError(
      AppErrorCode.NOT_HERE,
      `rs.${method}() is not available in ${PHASE_NAMES[this.phase]} callback (only in ${list} callbacks)`,
    );
  }

  private clientIdArg(method: string, id: ClientIdLike): number {
    if (typeof id === 'number') {
      if (Number.isSafeInteger(id) && id > 0) return id;
    } else if (typeof id === 'bigint') {
      if (id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(id);
    }
    const shown = typeof id === 'bigint' ? `${id}n` : typeof id === 'number' ? String(id) : `a ${typeof id}`;
    throw new RingSocketAppError(AppErrorCode.BAD_CLIENT_ID, `rs.${method}(): a client id is a positive safe integer, got ${shown}`);
  }

  private idsArg(method: string, ids: readonly ClientIdLike[]): number[] {
    if (!Array.isArray(ids)) {
      throw new RingSocketAppError(AppErrorCode.BAD_CLIENT_ID, `rs.${method}(): expected an array of client ids`);
    }
    const out: number[] = [];
    if (ids.length <= 16) {
      for (let i = 0; i < ids.length; i++) {
        const id = this.clientIdArg(method, ids[i]);
        if (!out.includes(id)) out.push(id);
      }
    } else {
      const seen = new Set<number>();
      for (let i = 0; i < ids.length; i++) {
        const id = this.clientIdArg(method, ids[i]);
        if (!seen.has(id)) { seen.add(id); out.push(id); }
      }
    }
    return out;
  }

  private closeCodeArg(method: string, code: number): number {
    if (typeof code !== 'number' || !Number.isInteger(code) || code < CloseCode.APP_MIN || code > CloseCode.APP_MAX) {
      throw new RingSocketAppError(
        AppErrorCode.BAD_CLOSE_CODE,
        `rs.${method}(): an app's close code is an integer in ${CloseCode.APP_MIN}...${CloseCode.APP_MAX}, got ${String(code)}`,
      );
    }
    return code;
  }

  /** Checks the data kind and (for text) the UTF-8 of the written message; returns the message. */
  private message(method: string, kind: DataKind): Uint8Array {
    if (kind !== DataKind.BIN && kind !== DataKind.UTF8) {
      throw new RingSocketAppError(
        AppErrorCode.BAD_DATA_KIND,
        `rs.${method}(): the data kind is DataKind.BIN (RS_BIN, 0) or DataKind.UTF8 (RS_UTF8, 1), got ${String(kind)}`,
      );
    }
    const w = this.wbuf;
    const payload = w.bytes.subarray(0, w.length);
    if (kind === DataKind.UTF8 && !w.knownText && !isUtf8(payload)) {
      throw new RingSocketAppError(
        AppErrorCode.INVALID_UTF8,
        `rs.${method}(RS_UTF8): the ${payload.length}-byte message is not valid UTF-8 (send it as RS_BIN, or write text with wStr)`,
      );
    }
    return payload;
  }

  /** Hands the written message to the host and empties the write buffer. */
  private flush(method: string, kind: DataKind, to: Recipients): void {
    const payload = this.message(method, kind);
    this.wbuf.reset();
    this.host.send(kind, payload, to);
  }

  // ---- InitRs

  config(): DeepReadonly<Config> {
    return this.frozenConfig;
  }

  appData(): Uint8Array {
    return this.data;
  }

  logEnabled(level: LogLevel): boolean {
    const rank = logLevelRank(level);
    if (rank < 0) {
      throw new RingSocketAppError(
        AppErrorCode.BAD_LOG_LEVEL,
        `rs.log(): the level is one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
      );
    }
    return rank <= this.logRank;
  }

  log(level: LogLevel, message: string, cause?: unknown): void {
    if (!this.logEnabled(level)) return;
    this.host.log(level, cause === undefined ? String(message) : `${message}: ${describeCause(cause)}`);
  }

  // ---- writers (TimerRs)

  wBytes(bytes: ArrayBufferView | ArrayBufferLike): this {
    this.allow(SEND, 'wBytes');
    this.wbuf.wBytes(bytes);
    return this;
  }
  wStr(text: string): this {
    this.allow(SEND, 'wStr');
    this.wbuf.wStr(text);
    return this;
  }
  wU8(v: number): this { this.allow(SEND, 'wU8'); this.wbuf.u8('wU8', v, false); return this; }
  wU16(v: number): this { this.allow(SEND, 'wU16'); this.wbuf.u16('wU16', v, false, HOST_LE); return this; }
  wU32(v: number): this { this.allow(SEND, 'wU32'); this.wbuf.u32('wU32', v, false, HOST_LE); return this; }
  wU64(v: bigint | number): this { this.allow(SEND, 'wU64'); this.wbuf.u64('wU64', v, false, HOST_LE); return this; }
  wI8(v: number): this { this.allow(SEND, 'wI8'); this.wbuf.u8('wI8', v, true); return this; }
  wI16(v: number): this { this.allow(SEND, 'wI16'); this.wbuf.u16('wI16', v, true, HOST_LE); return this; }
  wI32(v: number): this { this.allow(SEND, 'wI32'); this.wbuf.u32('wI32', v, true, HOST_LE); return this; }
  wI64(v: bigint | number): this { this.allow(SEND, 'wI64'); this.wbuf.u64('wI64', v, true, HOST_LE); return this; }
  wU16Hton(v: number): this { this.allow(SEND, 'wU16Hton'); this.wbuf.u16('wU16Hton', v, false, false); return this; }
  wU32Hton(v: number): this { this.allow(SEND, 'wU32Hton'); this.wbuf.u32('wU32Hton', v, false, false); return this; }
  wU64Hton(v: bigint | number): this { this.allow(SEND, 'wU64Hton'); this.wbuf.u64('wU64Hton', v, false, false); return this; }
  wI16Hton(v: number): this { this.allow(SEND, 'wI16Hton'); this.wbuf.u16('wI16Hton', v, true, false); return this; }
  wI32Hton(v: number): this { this.allow(SEND, 'wI32Hton'); this.wbuf.u32('wI32Hton', v, true, false); return this; }
  wI64Hton(v: bigint | number): this { this.allow(SEND, 'wI64Hton'); this.wbuf.u64('wI64Hton', v, true, false); return this; }
  wF32(v: number): this { this.allow(SEND, 'wF32'); this.wbuf.f32('wF32', v, HOST_LE); return this; }
  wF64(v: number): this { this.allow(SEND, 'wF64'); this.wbuf.f64('wF64', v, HOST_LE); return this; }
  wF32Hton(v: number): this { this.allow(SEND, 'wF32Hton'); this.wbuf.f32('wF32Hton', v, false); return this; }
  wF64Hton(v: number): this { this.allow(SEND, 'wF64Hton'); this.wbuf.f64('wF64Hton', v, false); return this; }

  /** Throws RS_APP_NOT_HERE unless the current callback kind is in `mask`. */
  private allow(mask: number, method: string): void {
    if (((mask >> this.phase) & 1) === 0) this.refuse(mask, method);
  }

  // ---- senders

  toSingle(kind: DataKind, clientId: ClientIdLike): void {
    this.allow(SEND, 'toSingle');
    this.single.id = this.clientIdArg('toSingle', clientId);
    this.flush('toSingle', kind, this.single);
  }

  toMulti(kind: DataKind, clientIds: readonly ClientIdLike[]): void {
    this.allow(SEND, 'toMulti');
    const ids = this.idsArg('toMulti', clientIds);
    if (ids.length === 0) {
      // No recipient: the same checks as a real send, then the message is dropped.
      this.message('toMulti', kind);
      this.wbuf.reset();
      return;
    }
    this.flush('toMulti', kind, { kind: 'multi', ids });
  }

  toEvery(kind: DataKind): void {
    this.allow(SEND, 'toEvery');
    this.flush('toEvery', kind, this.every);
  }

  toEveryExceptSingle(kind: DataKind, clientId: ClientIdLike): void {
    this.allow(SEND, 'toEveryExceptSingle');
    this.exceptSingle.id = this.clientIdArg('toEveryExceptSingle', clientId);
    this.flush('toEveryExceptSingle', kind, this.exceptSingle);
  }

  toEveryExceptMulti(kind: DataKind, clientIds: readonly ClientIdLike[]): void {
    this.allow(SEND, 'toEveryExceptMulti');
    const ids = this.idsArg('toEveryExceptMulti', clientIds);
    this.flush('toEveryExceptMulti', kind, ids.length === 0 ? this.every : { kind: 'every_except_multi', ids });
  }

  toCur(kind: DataKind): void {
    this.allow(CUR, 'toCur');
    if (this.curClosed) throw this.curClosedError('toCur');
    this.single.id = this.curId;
    this.flush('toCur', kind, this.single);
  }

  toEveryExceptCur(kind: DataKind): void {
    this.allow(CUR, 'toEveryExceptCur');
    if (this.curClosed) throw this.curClosedError('toEveryExceptCur');
    this.exceptSingle.id = this.curId;
    this.flush('toEveryExceptCur', kind, this.exceptSingle);
  }

  private curClosedError(method: string): RingSocketAppError {
    return new RingSocketAppError(
      AppErrorCode.CUR_CLOSED,
      `rs.${method}(): the current client (${this.curId}) was closed during this callback`,
    );
  }

  // ---- closing

  close(clientId: ClientIdLike, code: number): void {
    this.allow(SEND, 'close');
    const id = this.clientIdArg('close', clientId);
    const checked = this.closeCodeArg('close', code);
    // Not one of this app instance's clients: in a cluster it may be another node's (the host
    // forwards the close there); otherwise it is not open, and the close is ignored.
    if (!this.closeClient(id, checked)) this.host.closeRemote?.(id, checked);
  }

  closeCur(code: number): void {
    this.allow(CUR, 'closeCur');
    this.closeClient(this.curId, this.closeCodeArg('closeCur', code));
  }

  /** Closes an open client; its close callback becomes due. false if it was not open. */
  closeClient(id: number, code: number): boolean {
    const entry = this.clients.get(id);
    if (entry === undefined) return false;
    this.clients.delete(id);
    if (id === this.curId && this.phase !== Phase.NONE) this.curClosed = true;
    this.pendingCloses.push(id);
    this.pendingEntries.push(entry);
    this.host.closeClient(id, code);
    return true;
  }

  // ---- client getters

  clientId(): number {
    this.allow(CLIENT, 'clientId');
    return this.curId;
  }

  endpointId(): number {
    this.allow(CLIENT, 'endpointId');
    return this.curEndpoint;
  }

  clientAddr(): ClientAddr {
    this.allow(CUR, 'clientAddr');
    return this.curAddr!;
  }

  readDataKind(): DataKind {
    this.allow(READ_ONLY, 'readDataKind');
    return this.curKind;
  }

  subprotocol(): string | null {
    this.allow(CLIENT, 'subprotocol');
    return this.curEntry!.subprotocol;
  }

  clientData<T = unknown>(): T | undefined {
    this.allow(CLIENT, 'clientData');
    return this.curEntry!.data as T | undefined;
  }

  setClientData(value: unknown): void {
    this.allow(CUR, 'setClientData');
    this.curEntry!.data = value;
  }
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class Runtime implements AppRuntime {
  readonly timerSpec: TimerSpec | null;
  private readonly app: App;
  private readonly ctx: AppContext;
  private readonly host: AppHost;
  /** The plain read form's case and parser, or null for a switch. */
  private readonly singleCase: ReadCase | null;
  private readonly singleSchema: CompiledSchema | null;
  /** readSwitch: case and parser per first byte. */
  private readonly cases: (ReadCase | null)[];
  private readonly caseSchemas: (CompiledSchema | null)[];
  private draining = false;
  /** Handshakes the upgrade hook decides, by client id (see PendingUpgrade). */
  private readonly upgrades = new Map<number, PendingUpgrade>();

  constructor(app: App, host: AppHost) {
    this.app = app;
    this.host = host;
    this.ctx = new AppContext(host, app.appDataSize);
    this.timerSpec = app.timer ? Object.freeze({ mode: app.timer.mode, firstUs: app.timer.firstUs }) : null;
    const read = app.read;
    this.cases = new Array(256).fill(null);
    this.caseSchemas = new Array(256).fill(null);
    if (read.single) {
      this.singleCase = read.single;
      this.singleSchema = this.compile(read.single);
    } else {
      this.singleCase = null;
      this.singleSchema = null;
      for (let v = 0; v < 256; v++) {
        const c = read.cases![v];
        if (c) { this.cases[v] = c; this.caseSchemas[v] = this.compile(c); }
      }
    }
  }

  private compile(c: ReadCase): CompiledSchema {
    const s = new CompiledSchema(c.schema, c.value < 0 ? 'read' : `case ${c.value}`);
    s.args[0] = this.ctx;
    return s;
  }

  get clientCount(): number {
    return this.ctx.clients.size;
  }

  get hasUpgradeHook(): boolean {
    return this.app.upgrade !== null;
  }

  get pendingUpgrades(): number {
    return this.upgrades.size;
  }

  init(): boolean {
    const cb = this.app.init;
    if (cb === null) return true;
    const ctx = this.ctx;
    ctx.phase = Phase.INIT;
    let ret: CallbackResult | typeof THREW;
    try {
      ret = cb(ctx);
    } catch (err) {
      ctx.phase = Phase.NONE;
      this.host.log('error', `init callback threw: ${describe(err)}`);
      return false;
    }
    ctx.phase = Phase.NONE;
    if (ret === -1) {
      this.host.log('error', 'init callback returned -1 (fatal app error)');
      return false;
    }
    if (ret !== undefined && ret !== 0) {
      this.host.log('error', `init callback returned ${describeReturn(ret)}, which means nothing there (allowed: 0, -1)`);
    }
    return true;
  }

  open(clientId: number, endpointId: number, addr: ClientAddr, subprotocol: string | null = null): void {
    const ctx = this.ctx;
    if (ctx.clients.has(clientId)) {
      this.host.log('error', `open of client ${clientId}, which is already open: ignored`);
      return;
    }
    const frozen = Object.freeze({ family: addr.family, address: addr.address, port: addr.port });
    // What the upgrade hook attached follows the client.
    const pending = this.upgrades.get(clientId);
    if (pending !== undefined) this.upgrades.delete(clientId);
    const entry: ClientEntry = { endpointId, addr: frozen, subprotocol, data: pending?.data };
    ctx.clients.set(clientId, entry);
    const cb = this.app.open;
    if (cb === null) return;
    this.enter(Phase.OPEN, clientId, entry, DataKind.BIN);
    let ret: CallbackResult | typeof THREW;
    try {
      ret = cb(ctx);
    } catch (err) {
      ret = THREW;
      this.threw(err);
    }
    this.finishClient(ret);
  }

  // The endpoint id is in the record for the contract's symmetry; the runtime has it since open.
  read(clientId: number, _endpointId: number, dataKind: number, payload: Uint8Array): void {
    const ctx = this.ctx;
    const entry = ctx.clients.get(clientId);
    if (entry === undefined) return; // closed by the app while this message was in flight
    let c = this.singleCase;
    let schema = this.singleSchema;
    let start = 0;
    if (c === null) {
      if (payload.length === 0) return this.reject(clientId, CloseCode.WRONG_SIZE, 'an empty message has no switch case byte');
      const v = payload[0];
      c = this.cases[v];
      if (c === null) return this.reject(clientId, CloseCode.UNKNOWN_CASE, `no case ${v}`);
      schema = this.caseSchemas[v];
      start = 1;
    }
    if (c.kind !== ReadKind.ANY && c.kind !== dataKind) {
      return this.reject(clientId, CloseCode.WRONG_DATA_KIND, dataKind === DataKind.UTF8 ? 'text where binary is read' : 'binary where text is read');
    }
    const code = schema!.parse(payload, start);
    if (code !== 0) return this.reject(clientId, code, 'the message does not fit the read schema');
    this.enter(Phase.READ, clientId, entry, dataKind as DataKind);
    const args = schema!.args;
    const cb = c.callback as (...a: unknown[]) => CallbackResult;
    let ret: CallbackResult | typeof THREW;
    try {
      switch (args.length) {
        case 1: ret = cb(ctx); break;
        case 2: ret = cb(ctx, args[1]); break;
        case 3: ret = cb(ctx, args[1], args[2]); break;
        case 4: ret = cb(ctx, args[1], args[2], args[3]); break;
        default: ret = cb.apply(undefined, args);
      }
    } catch (err) {
      ret = THREW;
      this.threw(err);
    }
    this.finishClient(ret);
  }

  close(clientId: number, _endpointId: number): void {
    const ctx = this.ctx;
    const entry = ctx.clients.get(clientId);
    if (entry === undefined) {
      // Closed by the app already (its close callback has run), or never opened: a handshake that
      // waited for the upgrade hook and did not get through.
      this.upgrades.delete(clientId);
      return;
    }
    ctx.clients.delete(clientId);
    ctx.pendingCloses.push(clientId);
    ctx.pendingEntries.push(entry);
    this.drain();
  }

  /**
   * Another node's instance of this app closed one of this instance's clients (a cluster's
   * rs.close()): as if this instance had, so the client is closed and its close callback runs.
   */
  closeFromPeer(clientId: number, code: number): void {
    if (this.ctx.closeClient(clientId, code)) this.drain();
  }

  upgrade(clientId: number, endpointId: number, addr: ClientAddr, subprotocol: string | null, head: UpgradeHead): void {
    const hook = this.app.upgrade;
    if (hook === null) {
      this.host.log('error', `upgrade of client ${clientId}, but the app has no upgrade hook: accepted`);
      this.host.upgradeReply?.(clientId, UPGRADE_ACCEPTED);
      return;
    }
    if (this.upgrades.has(clientId) || this.ctx.clients.has(clientId)) {
      this.host.log('error', `upgrade of client ${clientId}, which is already known: ignored`);
      return;
    }
    const pending: PendingUpgrade = { data: undefined, settled: false };
    this.upgrades.set(clientId, pending);
    const req = upgradeRequest(head, endpointId, addr, subprotocol, (value) => {
      if (pending.settled) {
        throw new RingSocketAppError(
          AppErrorCode.OUTSIDE_CALLBACK,
          'req.setClientData() was called after the upgrade hook settled: set it before the hook returns (or its promise resolves), or use rs.setClientData() in a callback of the client',
        );
      }
      pending.data = value;
    });
    let ret: unknown;
    let thenable: boolean;
    try {
      ret = hook(req, this.ctx);
      // Inside the try: reading `then` runs the app's code too (a getter, a Proxy).
      thenable = typeof (ret as PromiseLike<unknown> | null)?.then === 'function';
    } catch (err) {
      this.settleUpgrade(clientId, pending, err, true);
      return;
    }
    if (thenable) {
      // The app goes on with other events meanwhile; the answer goes out when it settles.
      Promise.resolve(ret).then(
        (value) => this.settleUpgrade(clientId, pending, value, false),
        (err) => this.settleUpgrade(clientId, pending, err, true),
      );
    } else this.settleUpgrade(clientId, pending, ret, false);
  }

  /** The hook of `id` returned (or its promise settled) with `value`, or threw `value` (failed). */
  private settleUpgrade(id: number, pending: PendingUpgrade, value: unknown, failed: boolean): void {
    pending.settled = true;
    // Dropped meanwhile (the client left, or the daemon gave up after upgrade_timeout): no answer.
    if (this.upgrades.get(id) !== pending) return;
    let status: number | null;
    if (failed) {
      this.host.log('error', `upgrade hook of client ${id} failed (it threw, or its promise rejected); refusing it with ${UPGRADE_FAILED_STATUS}: ${describe(value)}`);
      status = UPGRADE_FAILED_STATUS;
    } else {
      status = upgradeStatus(value);
      if (status === null) {
        this.host.log('error', `upgrade hook of client ${id} returned ${describeReturn(value)}, which means nothing there (allowed: nothing or 0 to accept, 400-599 to refuse); refusing it with ${UPGRADE_FAILED_STATUS}`);
        status = UPGRADE_FAILED_STATUS;
      }
    }
    // An accepted client stays pending until its open brings the data along.
    if (status !== UPGRADE_ACCEPTED) this.upgrades.delete(id);
    this.host.upgradeReply?.(id, status);
  }

  timer(): number {
    const t = this.app.timer;
    if (t === null) return 0;
    const ctx = this.ctx;
    this.enter(Phase.TIMER, 0, null, DataKind.BIN);
    let ret: CallbackResult | typeof THREW;
    try {
      ret = t.callback(ctx);
    } catch (err) {
      ret = THREW;
      this.threw(err);
    }
    this.leave();
    let next = 0;
    if (ret === THREW) this.host.log('error', `timer callback threw; the timer stops: ${describe(this.lastError)}`);
    else if (ret === -1) this.host.log('error', 'timer callback returned -1 (fatal app error); the timer stops');
    else if (typeof ret === 'number' && ret > 0 && ret <= Number.MAX_SAFE_INTEGER) next = Math.ceil(ret);
    else if (ret !== undefined && ret !== 0) {
      this.host.log('error', `timer callback returned ${describeReturn(ret)}, which means nothing there (allowed: 0, -1, > 0 microseconds); the timer stops`);
    }
    this.lastError = undefined;
    this.drain();
    return next;
  }

  // ---- internals

  private lastError: unknown;

  private threw(err: unknown): void {
    this.lastError = err;
  }

  private enter(phase: Phase, id: number, entry: ClientEntry | null, kind: DataKind): void {
    const ctx = this.ctx;
    ctx.phase = phase;
    ctx.curId = id;
    ctx.curEntry = entry;
    ctx.curEndpoint = entry === null ? 0 : entry.endpointId;
    ctx.curKind = kind;
    // The close callback has no address (the client is gone).
    ctx.curAddr = entry === null || phase === Phase.CLOSE ? null : entry.addr;
    ctx.curClosed = false;
  }

  /** Ends a callback: discards unsent writes. */
  private leave(): void {
    const ctx = this.ctx;
    const name = CB_NAMES[ctx.phase];
    ctx.phase = Phase.NONE;
    ctx.curEntry = null;
    const w = ctx.wbuf;
    if (w.length > 0) {
      if (this.lastError === undefined) {
        this.host.log('warning', `${name} callback wrote ${w.length} bytes but sent none of them: discarded`);
      }
      w.reset();
    }
  }

  /** Ends an open or read callback: handles a throw or the return value, then due close callbacks. */
  private finishClient(ret: CallbackResult | typeof THREW): void {
    const ctx = this.ctx;
    const name = CB_NAMES[ctx.phase];
    const id = ctx.curId;
    // Still open unless this callback closed it (nothing else can close it meanwhile).
    const open = !ctx.curClosed;
    this.leave();
    if (ret === THREW) {
      const err = this.lastError;
      this.lastError = undefined;
      this.host.log('error', `${name} callback of client ${id} threw${open ? '; closing the client with 1011' : ''}: ${describe(err)}`);
      if (open) ctx.closeClient(id, CloseCode.INTERNAL_ERROR);
    } else if (ret === undefined || ret === 0) {
      // ok
    } else if (ret === -1) {
      this.host.log('error', `${name} callback of client ${id} returned -1 (fatal app error)${open ? '; closing the client with 1011' : ''}`);
      if (open) ctx.closeClient(id, CloseCode.INTERNAL_ERROR);
    } else if (typeof ret === 'number' && Number.isInteger(ret) && ret >= CloseCode.APP_MIN && ret <= CloseCode.APP_MAX) {
      if (open) ctx.closeClient(id, ret);
    } else {
      this.host.log('error', `${name} callback of client ${id} returned ${describeReturn(ret)}, which means nothing there (allowed: 0, -1, 4000-4899)`);
    }
    this.drain();
  }

  /** A message that does not fit the read form: close with 49xx, then the close callback. */
  private reject(id: number, code: number, why: string): void {
    if (this.ctx.logEnabled('debug')) this.host.log('debug', `client ${id} closed with ${code}: ${why}`);
    this.ctx.closeClient(id, code);
    this.drain();
  }

  /** Runs the close callback of every client closed so far, including those closed meanwhile. */
  private drain(): void {
    if (this.draining) return;
    const pending = this.ctx.pendingCloses;
    const entries = this.ctx.pendingEntries;
    if (pending.length === 0) return;
    this.draining = true;
    try {
      for (let i = 0; i < pending.length; i++) this.runClose(pending[i], entries[i]);
    } finally {
      pending.length = 0;
      entries.length = 0;
      this.draining = false;
    }
  }

  private runClose(id: number, entry: ClientEntry): void {
    const cb = this.app.close;
    if (cb === null) return;
    const ctx = this.ctx;
    this.enter(Phase.CLOSE, id, entry, DataKind.BIN);
    let ret: CallbackResult | typeof THREW;
    try {
      ret = cb(ctx);
    } catch (err) {
      ret = THREW;
      this.threw(err);
    }
    this.leave();
    if (ret === THREW) {
      const err = this.lastError;
      this.lastError = undefined;
      this.host.log('error', `close callback of client ${id} threw: ${describe(err)}`);
    } else if (ret === -1) {
      this.host.log('error', `close callback of client ${id} returned -1 (fatal app error)`);
    } else if (ret !== undefined && ret !== 0) {
      this.host.log('error', `close callback of client ${id} returned ${describeReturn(ret)}, which means nothing there (allowed: 0, -1)`);
    }
  }
}

/**
 * Creates the runtime of one app. `app` is the app module's default export (a defineApp() result);
 * anything else throws RingSocketAppError (RS_APP_BAD_DEFINITION) naming what was found.
 */
export function createAppRuntime(app: unknown, host: AppHost): AppRuntime {
  if (!isApp(app)) {
    const found = app === undefined ? 'undefined' : app === null ? 'null' : `a ${typeof app}`;
    throw new RingSocketAppError(
      AppErrorCode.BAD_DEFINITION,
      `the app module's default export must be defineApp({...}), found ${found}`,
    );
  }
  return new Runtime(app, host);
}
