// How a connection closed, with the close code's name from the one table (src/core/codes.ts).
import { CloseCode } from '../core/codes.ts';

/** The names CloseCode gives to single codes (APP_MIN / APP_MAX bound a range; they name no code). */
export type CloseName = Exclude<keyof typeof CloseCode, 'APP_MIN' | 'APP_MAX'>;

const NAMES = new Map<number, CloseName>(
  (Object.entries(CloseCode) as [keyof typeof CloseCode, number][])
    .filter((e): e is [CloseName, number] => e[0] !== 'APP_MIN' && e[0] !== 'APP_MAX')
    .map(([name, code]) => [code, name]),
);

/**
 * The name of a close code: 'WRONG_SIZE' for 4900, 'WRONG_DATA_KIND' for 4901, 'UNKNOWN_CASE'
 * for 4902, 'NORMAL' for 1000, 'ABNORMAL' for 1006 (no close frame) ...; undefined for an app's own
 * code (4000-4899) and any other code CloseCode does not name.
 */
export function closeName(code: number): CloseName | undefined {
  return NAMES.get(code);
}

/** How a connection closed: what Client.closed resolves with. */
export interface CloseInfo {
  readonly code: number;
  /** closeName(code): present when CloseCode names the code. */
  readonly name?: CloseName;
  readonly reason: string;
  /** The close handshake completed (false: the connection was cut, code 1006). */
  readonly wasClean: boolean;
}

export function closeInfo(code: number, reason: string, wasClean: boolean): CloseInfo {
  const name = closeName(code);
  return Object.freeze(name === undefined ? { code, reason, wasClean } : { code, name, reason, wasClean });
}
