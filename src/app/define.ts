// defineApp() and the read and timer forms: the RS_APP / RS_INIT / RS_OPEN / RS_READ_* / RS_CASE_* /
// RS_CLOSE / RS_TIMER_* counterparts. Everything here only describes the app and checks the
// description; src/app/runtime.ts runs it.
import { AppErrorCode, RingSocketAppError } from './errors.ts';
import { CompiledSchema, type Args, type Schema } from './schema.ts';
import type { CallbackResult, CloseRs, InitRs, OpenRs, ReadRs, TimerRs, UpgradeRequest, UpgradeResult } from './types.ts';

/** Which data kinds a read form accepts. BIN and UTF8 equal DataKind.BIN / DataKind.UTF8. */
export const ReadKind = { BIN: 0, UTF8: 1, ANY: 2 } as const;
export type ReadKind = (typeof ReadKind)[keyof typeof ReadKind];

export type InitCallback = (rs: InitRs) => CallbackResult;
export type OpenCallback = (rs: OpenRs) => CallbackResult;
export type CloseCallback = (rs: CloseRs) => CallbackResult;
export type TimerCallback = (rs: TimerRs) => CallbackResult;
/**
 * Called before the 101 of every handshake to this app's endpoints (after the daemon's own checks):
 * return nothing to accept, or a status 400-599 to refuse; it may be async. `rs` offers what works
 * anywhere (config, appData, log).
 */
export type UpgradeHook = (req: UpgradeRequest, rs: InitRs) => UpgradeResult | PromiseLike<UpgradeResult>;
export type ReadCallback<S extends Schema> = (rs: ReadRs, ...args: Args<S>) => CallbackResult;

type AnyReadCallback = (rs: ReadRs, ...args: never[]) => CallbackResult;

const CASE = 'ringsocket.case';
const READ = 'ringsocket.read';
const TIMER = 'ringsocket.timer';
const APP = 'ringsocket.app';

/** One read form or switch case: what readBin() / caseBin() ... return. Opaque to apps. */
export interface ReadCase {
  readonly type: typeof CASE;
  readonly kind: ReadKind;
  /** The schema as written (validated); each runtime compiles its own parser from it. */
  readonly schema: readonly unknown[];
  readonly callback: AnyReadCallback;
  /** The case value inside a switch; -1 for a plain read form. */
  readonly value: number;
}

/** The read part of an app: exactly one of readBin, readUtf8, readAny or readSwitch. */
export interface ReadForm {
  readonly type: typeof READ;
  /** readBin / readUtf8 / readAny: the one case; null for a switch. */
  readonly single: ReadCase | null;
  /** readSwitch: 256 slots indexed by the first payload byte; null otherwise. */
  readonly cases: readonly (ReadCase | null)[] | null;
}

export interface TimerForm {
  readonly type: typeof TIMER;
  /** 'sleep': fires only while the app sees traffic (RS_TIMER_SLEEP); 'wake': fires even when idle. */
  readonly mode: 'sleep' | 'wake';
  /** When the first call is due, in microseconds after start. */
  readonly firstUs: number;
  readonly callback: TimerCallback;
}

export interface InitOptions {
  readonly callback?: InitCallback;
  /** RS_INIT(cb, app_data_byte_c): bytes of zero-filled app data, returned by rs.appData(). */
  readonly appDataSize: number;
}

/** What an app module default-exports: `export default defineApp({...})`. */
export interface AppDefinition {
  /** RS_INIT: called once before any client event. A callback, or { callback?, appDataSize }. */
  readonly init?: InitCallback | InitOptions;
  /** RS_OPEN: a client completed the WebSocket handshake. */
  readonly open?: OpenCallback;
  /** RS_READ_*: readBin(...), readUtf8(...), readAny(...) or readSwitch({...}). */
  readonly read: ReadForm;
  /** RS_CLOSE: a client is gone, for any reason; called exactly once per opened client. */
  readonly close?: CloseCallback;
  /** RS_TIMER_SLEEP / RS_TIMER_WAKE: timerSleep(cb, firstUs) or timerWake(cb, firstUs). */
  readonly timer?: TimerForm;
  /** No C counterpart: decides about every handshake before the 101 (README, "The upgrade hook"). */
  readonly upgrade?: UpgradeHook;
}

/** A checked app definition (defineApp's result). */
export interface App {
  readonly type: typeof APP;
  readonly init: InitCallback | null;
  readonly appDataSize: number;
  readonly open: OpenCallback | null;
  readonly read: ReadForm;
  readonly close: CloseCallback | null;
  readonly timer: TimerForm | null;
  readonly upgrade: UpgradeHook | null;
}

function bad(message: string): RingSocketAppError {
  return new RingSocketAppError(AppErrorCode.BAD_DEFINITION, message);
}

function makeCase(where: string, kind: ReadKind, schema: Schema, callback: AnyReadCallback, value: number): ReadCase {
  if (typeof callback !== 'function') throw bad(`${where}: the callback must be a function`);
  new CompiledSchema(schema, where); // throws if the schema is not valid
  return Object.freeze({ type: CASE, kind, schema: Object.freeze([...schema]), callback, value });
}

function single(where: string, kind: ReadKind, schema: Schema, callback: AnyReadCallback): ReadForm {
  return Object.freeze({ type: READ, single: makeCase(where, kind, schema, callback, -1), cases: null });
}

/** RS_READ_BIN: binary messages only (a text message closes the client with 4901). */
export function readBin<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadForm {
  return single('readBin', ReadKind.BIN, schema, callback as AnyReadCallback);
}

/** RS_READ_UTF8: text messages only (a binary message closes the client with 4901). */
export function readUtf8<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadForm {
  return single('readUtf8', ReadKind.UTF8, schema, callback as AnyReadCallback);
}

/** RS_READ_ANY: text or binary; rs.readDataKind() tells which. */
export function readAny<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadForm {
  return single('readAny', ReadKind.ANY, schema, callback as AnyReadCallback);
}

/** RS_CASE_BIN: a binary switch case. */
export function caseBin<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadCase {
  return makeCase('caseBin', ReadKind.BIN, schema, callback as AnyReadCallback, -1);
}

/** RS_CASE_UTF8: a text switch case. */
export function caseUtf8<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadCase {
  return makeCase('caseUtf8', ReadKind.UTF8, schema, callback as AnyReadCallback, -1);
}

/** RS_CASE_ANY: a switch case for text or binary. */
export function caseAny<const S extends Schema>(schema: S, callback: ReadCallback<S>): ReadCase {
  return makeCase('caseAny', ReadKind.ANY, schema, callback as AnyReadCallback, -1);
}

/**
 * RS_READ_SWITCH: the first payload byte (0-255) selects the case; it is consumed, and the case's
 * schema describes the rest. An empty message closes the client with 4900, a byte without a case
 * with 4902.
 */
export function readSwitch(cases: { readonly [value: number]: ReadCase }): ReadForm {
  if (typeof cases !== 'object' || cases === null) throw bad('readSwitch: expected an object of cases, { 0: caseBin(...), ... }');
  const table: (ReadCase | null)[] = new Array(256).fill(null);
  let count = 0;
  for (const key of Object.keys(cases)) {
    const value = Number(key);
    if (!/^(0|[1-9][0-9]*)$/.test(key) || value > 255) {
      throw bad(`readSwitch: case ${JSON.stringify(key)} is not an integer in 0...255`);
    }
    const c = (cases as Record<string, unknown>)[key] as ReadCase;
    if (c?.type !== CASE) throw bad(`readSwitch: case ${value} is not a caseBin(), caseUtf8() or caseAny()`);
    table[value] = Object.freeze({ ...c, value });
    count++;
  }
  if (count === 0) throw bad('readSwitch: at least one case is needed');
  return Object.freeze({ type: READ, single: null, cases: Object.freeze(table) });
}

function timerForm(where: string, mode: 'sleep' | 'wake', callback: TimerCallback, firstUs: number): TimerForm {
  if (typeof callback !== 'function') throw bad(`${where}: the callback must be a function`);
  if (!Number.isSafeInteger(firstUs) || firstUs <= 0) {
    throw bad(`${where}: firstUs must be an integer number of microseconds > 0, got ${String(firstUs)}`);
  }
  return Object.freeze({ type: TIMER, mode, firstUs, callback });
}

/**
 * RS_TIMER_SLEEP: `callback` is first due `firstUs` microseconds after start, and then again after
 * whatever it returns (> 0: microseconds; 0: never). The app may sleep through a due time while it
 * is idle: the call then happens once traffic arrives.
 */
export function timerSleep(callback: TimerCallback, firstUs: number): TimerForm {
  return timerForm('timerSleep', 'sleep', callback, firstUs);
}

/** RS_TIMER_WAKE: like timerSleep, but the call happens on time even when the app is idle. */
export function timerWake(callback: TimerCallback, firstUs: number): TimerForm {
  return timerForm('timerWake', 'wake', callback, firstUs);
}

const KEYS = new Set(['init', 'open', 'read', 'close', 'timer', 'upgrade']);

/** RS_APP: checks an app definition; the app module default-exports the result. */
export function defineApp(definition: AppDefinition): App {
  if (typeof definition !== 'object' || definition === null) throw bad('defineApp: expected { read, ... }');
  for (const key of Object.keys(definition)) {
    if (!KEYS.has(key)) throw bad(`defineApp: unknown key "${key}" (allowed: init, open, read, close, timer, upgrade)`);
  }
  let init: InitCallback | null = null;
  let appDataSize = 0;
  const i = definition.init;
  if (typeof i === 'function') init = i;
  else if (typeof i === 'object' && i !== null) {
    if (i.callback !== undefined && typeof i.callback !== 'function') throw bad('defineApp: init.callback must be a function');
    if (!Number.isSafeInteger(i.appDataSize) || i.appDataSize < 0) {
      throw bad(`defineApp: init.appDataSize must be an integer >= 0, got ${String(i.appDataSize)}`);
    }
    init = i.callback ?? null;
    appDataSize = i.appDataSize;
  } else if (i !== undefined) throw bad('defineApp: init must be a function or { callback, appDataSize }');
  for (const key of ['open', 'close', 'upgrade'] as const) {
    const cb = definition[key];
    if (cb !== undefined && typeof cb !== 'function') throw bad(`defineApp: ${key} must be a function`);
  }
  const read = definition.read;
  if (read?.type !== READ) throw bad('defineApp: read must be readBin(...), readUtf8(...), readAny(...) or readSwitch({...})');
  const timer = definition.timer;
  if (timer !== undefined && timer?.type !== TIMER) throw bad('defineApp: timer must be timerSleep(cb, us) or timerWake(cb, us)');
  return Object.freeze({
    type: APP,
    init,
    appDataSize,
    open: definition.open ?? null,
    read,
    close: definition.close ?? null,
    timer: timer ?? null,
    upgrade: definition.upgrade ?? null,
  });
}

/** Whether a module's default export is a defineApp() result. */
export function isApp(value: unknown): value is App {
  return (value as App | null)?.type === APP;
}
