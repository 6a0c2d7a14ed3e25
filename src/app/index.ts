// The public app API: what an app module imports.
//   import { defineApp, readBin, ntoh, RS_BIN, RS_UTF8 } from '<ringsocket>/src/app/index.ts';
// README.md ("Writing an app") describes all of it, with a table mapping every RingSocket C macro and function.
export { defineApp, readBin, readUtf8, readAny, readSwitch, caseBin, caseUtf8, caseAny, timerSleep, timerWake, isApp } from './define.ts';
export type {
  App, AppDefinition, InitOptions, InitCallback, OpenCallback, CloseCallback, TimerCallback, ReadCallback, UpgradeHook,
  ReadForm, ReadCase, TimerForm,
} from './define.ts';
export { net, ntoh, str, bytes, HOST_LITTLE_ENDIAN } from './schema.ts';
export type { Param, ArrayParam, ScalarParam, ByteOrderParams, Schema, Args, ArrayView, ArrayCopy, ScalarName, ScalarValue } from './schema.ts';
export { RingSocketAppError, AppErrorCode } from './errors.ts';
export type {
  InitRs, OpenRs, ReadRs, CloseRs, TimerRs, Rs, ClientAddr, ClientId, ClientIdLike, CallbackResult, DeepReadonly, LogLevel, Config,
  UpgradeRequest, UpgradeQuery, UpgradeResult,
} from './types.ts';
export { CloseCode, DataKind } from '../core/codes.ts';
import { DataKind } from '../core/codes.ts';

/** RS_BIN: a binary message (DataKind.BIN). */
export const RS_BIN = DataKind.BIN;
/** RS_UTF8: a text message (DataKind.UTF8). */
export const RS_UTF8 = DataKind.UTF8;
