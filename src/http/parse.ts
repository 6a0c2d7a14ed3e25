// Parsing an HTTP/1.1 request head (RFC 9112 §2-§5), strictly: anything a lenient parser would have
// to guess about is refused with 400. The head is decoded once as latin1 (one byte = one char, so
// string indices are byte offsets) and scanned with charCodeAt and a class table: no regular
// expressions, and the only strings made are the method, target and the header names and values.

import { Buffer } from 'node:buffer';
import { HttpRefusal } from './refusals.ts';
import type { Refusal } from './refusals.ts';

export interface HeaderField {
  /** Lower-case name. */
  readonly name: string;
  /** Value without leading and trailing whitespace; latin1-decoded bytes. */
  readonly value: string;
}

export interface RequestHead {
  readonly ok: true;
  /** Case-sensitive method token (RFC 9110 §9.1), e.g. 'GET'. */
  readonly method: string;
  /** The request target as sent, e.g. '/echo?x=1' or 'ws://host/echo'. */
  readonly target: string;
  /** From 'HTTP/<major>.<minor>'. */
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** In the order received; repeated headers are kept as separate fields. */
  readonly headers: readonly HeaderField[];
  /** Bytes of the head including the final empty line. Bytes at and after this offset are not part of it. */
  readonly headLength: number;
}

export type ParseResult = RequestHead | Refusal;

const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const COLON = 0x3a;

// Character classes of latin1 code units (256 entries).
const TCHAR = 1; // RFC 9110 §5.6.2 token characters
const UPPER = 2; // A-Z
const FIELD = 4; // RFC 9110 §5.5 field-vchar / SP / HTAB / obs-text (what a field value may hold)
const TARGET = 8; // visible ASCII: what a request-target may hold (RFC 9112 §3.2; RFC 3986 plus leniency)
const CLASS = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let c = 0x21; c <= 0x7e; c++) t[c] |= FIELD | TARGET;
  for (let c = 0x80; c <= 0xff; c++) t[c] |= FIELD;
  t[SP] |= FIELD;
  t[HTAB] |= FIELD;
  const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let i = 0; i < tchars.length; i++) t[tchars.charCodeAt(i)] |= TCHAR;
  for (let c = 0x41; c <= 0x5a; c++) t[c] |= UPPER;
  return t;
})();

/**
 * Whether `s.slice(start, end)` is a non-empty RFC 9110 §5.6.2 token (`1*tchar`): what a header
 * name, a method, or a subprotocol name (RFC 6455 §11.3.4) is made of.
 */
export function isToken(s: string, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || !(CLASS[c] & TCHAR)) return false;
  }
  return true;
}

/**
 * Calls `visit(start, end)` for each non-empty element of a comma-separated list (RFC 9110
 * §5.6.1: elements separated by OWS "," OWS, empty elements allowed), without its surrounding OWS,
 * until `visit` returns true; returns whether it did. No allocation.
 */
export function someToken(list: string, visit: (start: number, end: number) => boolean): boolean {
  const n = list.length;
  let i = 0;
  while (i < n) {
    let c = list.charCodeAt(i);
    if (c === SP || c === HTAB || c === COMMA) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && list.charCodeAt(i) !== COMMA) i++;
    let end = i;
    while (end > start && ((c = list.charCodeAt(end - 1)) === SP || c === HTAB)) end--;
    if (visit(start, end)) return true;
  }
  return false;
}

/** Decodes bytes [0, end) as latin1 without copying the bytes first. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return b.toString('latin1', start, end);
}

/**
 * Parses the request head at the start of `bytes`. `end` bounds the bytes looked at (pass the
 * value `findHeadEnd` returned, or the length of `HeadAccumulator`'s `head`); the head is
 * everything up to the first empty line, and its length is reported as `headLength`.
 *
 * Refusals (all 400): BARE_LF, MALFORMED_REQUEST_LINE, OBS_FOLD, MALFORMED_HEADER,
 * INVALID_HEADER_VALUE, HEAD_INCOMPLETE (no empty line before `end`).
 */
export function parseRequestHead(bytes: Uint8Array, end: number = bytes.length): ParseResult {
  const s = latin1(bytes, 0, end);

  // ---- request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3) ----
  let lf = s.indexOf('\n');
  if (lf < 0) return HttpRefusal.HEAD_INCOMPLETE;
  // RFC 9112 §2.2: a bare LF may be accepted as a line terminator; we do not (neither did the original).
  if (lf === 0 || s.charCodeAt(lf - 1) !== CR) return HttpRefusal.BARE_LF;
  const lineEnd = lf - 1;
  let i = 0;
  while (i < lineEnd && CLASS[s.charCodeAt(i)] & TCHAR) i++;
  if (i === 0 || i >= lineEnd || s.charCodeAt(i) !== SP) return HttpRefusal.MALFORMED_REQUEST_LINE;
  const method = s.slice(0, i);
  const targetStart = ++i;
  while (i < lineEnd && CLASS[s.charCodeAt(i)] & TARGET) i++;
  if (i === targetStart || i >= lineEnd || s.charCodeAt(i) !== SP) return HttpRefusal.MALFORMED_REQUEST_LINE;
  const target = s.slice(targetStart, i);
  i++;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
  if (
    lineEnd - i !== 8 ||
    !s.startsWith('HTTP/', i) ||
    s.charCodeAt(i + 6) !== 0x2e
  ) return HttpRefusal.MALFORMED_REQUEST_LINE;
  const major = s.charCodeAt(i + 5) - 0x30;
  const minor = s.charCodeAt(i + 7) - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return HttpRefusal.MALFORMED_REQUEST_LINE;

  // ---- *( field-line CRLF ) CRLF (RFC 9112 §5) ----
  const headers: HeaderField[] = [];
  let pos = lf + 1;
  for (;;) {
    lf = s.indexOf('\n', pos);
    if (lf < 0) return HttpRefusal.HEAD_INCOMPLETE;
    if (lf === pos || s.charCodeAt(lf - 1) !== CR) return HttpRefusal.BARE_LF;
    const eol = lf - 1;
    if (eol === pos) break; // the empty line
    const first = s.charCodeAt(pos);
    // RFC 9112 §5.2: a server that receives an obs-fold ... MUST either reject the message by sending
    // a 400 (Bad Request) ... or replace each received obs-fold with one or more SP.
    if (first === SP || first === HTAB) return HttpRefusal.OBS_FOLD;
    // field-name = token; RFC 9112 §5.1: "No whitespace is allowed between the field name and colon."
    let j = pos;
    let cls = 0;
    let c = 0;
    while (j < eol && (c = CLASS[s.charCodeAt(j)]) & TCHAR) {
      cls |= c;
      j++;
    }
    if (j === pos || j >= eol || s.charCodeAt(j) !== COLON) return HttpRefusal.MALFORMED_HEADER;
    const name = cls & UPPER ? s.slice(pos, j).toLowerCase() : s.slice(pos, j);
    // field-value with optional whitespace around it (RFC 9112 §5.1).
    j++;
    while (j < eol && isOws(s.charCodeAt(j))) j++;
    let vEnd = eol;
    while (vEnd > j && isOws(s.charCodeAt(vEnd - 1))) vEnd--;
    for (let k = j; k < vEnd; k++) {
      if (!(CLASS[s.charCodeAt(k)] & FIELD)) return HttpRefusal.INVALID_HEADER_VALUE;
    }
    headers.push({ name, value: s.slice(j, vEnd) });
    pos = lf + 1;
  }
  return { ok: true, method, target, versionMajor: major, versionMinor: minor, headers, headLength: lf + 1 };
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}
