// Runs one conformance case against a server URL and judges it the way Autobahn's fuzzing client
// does: the events the client observed must equal one of the case's expected lists (OK, or the
// tolerated NON-STRICT one), and the closing must match the case's close expectation (who closes,
// which codes, whether it must be clean, and that the server closes TCP itself). On top of
// Autobahn, every frame the server sends is checked against RFC 6455 (see connection.ts) and the
// server must still accept and echo on a fresh connection after each case.
import { openConnection, type Connection, type Observed } from './connection.ts';
import { Op, buildFrame, bytes, closePayload, fragmentFrames, type Bytes, type FrameSpec } from './frames.ts';

/** Autobahn's outcome names. */
export type Behavior = 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'FAILED' | 'WRONG CODE' | 'UNCLEAN' | 'FAILED BY CLIENT';

export interface ExpectedClose {
  /** true: the client starts the closing handshake; false: the server must fail the connection. */
  closedByMe: boolean;
  /** Close codes the server may send (an empty close payload is accepted too, as in Autobahn). */
  codes: number[];
  /** The closing handshake must complete: close frames both ways before TCP goes. */
  requireClean: boolean;
}

export interface CaseIO {
  readonly conn: Connection;
  readonly timing: Timing;
  /** Sends frames as one write (Autobahn's default), one write per frame (`sync`), or in `chop`-byte writes. */
  send(frames: Buffer | Buffer[], opts?: { sync?: boolean; chop?: number }): Promise<void>;
  /** Builds (masked) and sends one frame. */
  sendFrame(spec: FrameSpec, opts?: { sync?: boolean; chop?: number }): Promise<void>;
  /** Sends a message, cut into `fragmentSize`-byte frames if given. */
  sendMessage(opcode: number, payload: Bytes, opts?: { fragmentSize?: number; sync?: boolean; chop?: number }): Promise<void>;
  /** Sends our close frame (code and reason, or the raw `payload`). */
  sendClose(code?: number, reason?: Bytes): void;
  sendClosePayload(payload: Buffer): void;
  /**
   * Autobahn's continueLater: waits `timing.waitMs`; if the connection is still open, records
   * `{type: 'timeout', label}` and returns true, otherwise returns false.
   */
  later(label: string): Promise<boolean>;
  /** Waits until `n` events have been observed, or `ms`; returns whether they were. */
  waitReceived(n: number, ms: number): Promise<boolean>;
}

export interface CaseSpec {
  /** Autobahn case number ("1.1.1"); our own additions start with "x". */
  id: string;
  /** Present-tense behaviour, used as the test name. */
  title: string;
  /** Acceptable observed event lists; the first one that matches names the outcome. */
  expected: { OK: Observed[]; 'NON-STRICT'?: Observed[] };
  close: ExpectedClose;
  /** The script sends its own close frame; the runner does not close after a match. */
  suppressClose?: boolean;
  /** Autobahn does not judge the outcome (7.1.6, 7.13.x); we still require a live server and a TCP close. */
  informational?: boolean;
  /** NON-STRICT means the server failed only after the whole frame or message (Autobahn 6.4.x). */
  failFast?: boolean;
  /** Heavy case, only in the full run (CONFORMANCE_FULL=1). */
  full?: boolean;
  /** Autobahn's closeAfter / killAfter: how long the expected events or the failure may take. */
  timeoutMs?: number;
  run(io: CaseIO): Promise<void>;
}

export interface Timing {
  /** Autobahn's 1 s waits (continueLater) between the parts of a case. */
  waitMs: number;
  /** How long we watch for unexpected events when nothing more is expected. */
  quietMs: number;
  /** Default closeAfter / killAfter deadline. */
  caseTimeoutMs: number;
  /** After the closing handshake (or a server failure) the server must close TCP within this. */
  closeDeadlineMs: number;
}

/**
 * Autobahn's values where it has one: most cases give the server 1 s (closeAfter(1) / killAfter(1))
 * for the expected events or the failure, and 1 s to drop TCP after the close frames. Its 1 s
 * pauses are shortened to 300 ms, which only makes fail-fast stricter.
 */
export const DEFAULT_TIMING: Timing = { waitMs: 300, quietMs: 100, caseTimeoutMs: 1000, closeDeadlineMs: 1000 };

export interface RunOptions {
  timing?: Partial<Timing>;
  /** Treat NON-STRICT on `failFast` cases as a failure (the daemon must fail fast on UTF-8). */
  requireFailFast?: boolean;
  /**
   * Treat every NON-STRICT as a failure: e.g. a valid message's echo must go out before the close
   * that a following invalid frame causes (3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5, 5.15).
   */
  requireStrict?: boolean;
  /** Skip the fresh-connection echo check after the case. */
  skipLiveness?: boolean;
}

export interface CaseResult {
  id: string;
  behavior: Behavior;
  behaviorClose: Behavior;
  passed: boolean;
  /** Why it failed, and what happened: for the assertion message. */
  report: string;
  ms: number;
}

function sameEvent(a: Observed, b: Observed): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'timeout') return a.label === (b as typeof a).label;
  if (a.type === 'message' && a.binary !== (b as typeof a).binary) return false;
  return a.data.equals((b as { data: Buffer }).data);
}

export function sameEvents(a: readonly Observed[], b: readonly Observed[]): boolean {
  return a.length === b.length && a.every((e, i) => sameEvent(e, b[i]));
}

function describeBytes(b: Buffer): string {
  if (b.length <= 24) return `0x${b.toString('hex') || '(empty)'}`;
  return `${b.length} bytes 0x${b.subarray(0, 12).toString('hex')}…`;
}

export function describeEvents(events: readonly Observed[]): string {
  if (events.length === 0) return '[]';
  const parts = events.slice(0, 8).map((e) =>
    e.type === 'timeout' ? `timeout ${e.label}` : e.type === 'message' ? `${e.binary ? 'binary' : 'text'} ${describeBytes(e.data)}` : `${e.type} ${describeBytes(e.data)}`,
  );
  if (events.length > 8) parts.push(`… ${events.length - 8} more`);
  return `[${parts.join(', ')}]`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function makeIO(conn: Connection, timing: Timing): CaseIO {
  const io: CaseIO = {
    conn,
    timing,
    async send(frames, opts = {}) {
      const list = Array.isArray(frames) ? frames : [frames];
      if (opts.sync) await conn.writeEach(list, { chop: opts.chop });
      else await conn.write(list.length === 1 ? list[0] : Buffer.concat(list), { chop: opts.chop });
    },
    sendFrame(spec, opts) {
      return io.send(buildFrame(spec), opts);
    },
    sendMessage(opcode, payload, opts = {}) {
      const frames = opts.fragmentSize ? fragmentFrames(opcode, payload, opts.fragmentSize) : [buildFrame({ opcode, payload })];
      return io.send(frames, opts);
    },
    sendClose(code, reason) {
      conn.sendClose(closePayload(code, reason));
    },
    sendClosePayload(payload) {
      conn.sendClose(payload);
    },
    async later(label) {
      await sleep(timing.waitMs);
      if (!conn.open) return false;
      conn.received.push({ type: 'timeout', label });
      return true;
    },
    waitReceived(n, ms) {
      return conn.until(() => conn.received.length >= n || !conn.open, ms).then(() => conn.received.length >= n);
    },
  };
  return io;
}

/** Runs one case on a fresh connection to `url`. Never throws for server misbehaviour. */
export async function runCase(url: string, spec: CaseSpec, opts: RunOptions = {}): Promise<CaseResult> {
  const timing: Timing = { ...DEFAULT_TIMING, ...opts.timing };
  const started = Date.now();
  const notes: string[] = [];
  let conn: Connection;
  try {
    conn = await openConnection(url);
  } catch (err) {
    return { id: spec.id, behavior: 'FAILED', behaviorClose: 'FAILED', passed: false, report: `opening handshake failed: ${(err as Error).message}`, ms: Date.now() - started };
  }
  const expectations = Object.entries(spec.expected) as [Behavior, Observed[]][];
  const matchesAll = () => expectations.every(([, ev]) => sameEvents(conn.received, ev));
  const autoClose = spec.close.closedByMe && !spec.suppressClose;
  // Autobahn's finishWhenDone: once the events match every expected list, the client closes.
  conn.onObserved = () => {
    if (autoClose && conn.open && matchesAll()) conn.sendClose(closePayload(spec.close.codes[0]));
  };
  const deadline = spec.timeoutMs ?? timing.caseTimeoutMs;
  try {
    await spec.run(makeIO(conn, timing));
  } catch (err) {
    notes.push(`the case script threw: ${(err as Error).stack ?? err}`);
  }
  if (autoClose && conn.open) {
    if (matchesAll()) {
      // Everything expected has arrived (or nothing is expected): watch briefly for extras.
      await sleep(timing.quietMs);
    } else {
      // Autobahn's closeAfter: the expected events may take until the deadline.
      await conn.until(() => !conn.open || matchesAll(), deadline);
    }
    if (conn.open) conn.sendClose(closePayload(spec.close.codes[0]));
  } else if (conn.open) {
    // Autobahn's killAfter: the server must fail the connection (or, for suppressClose cases,
    // answer our close) before the deadline.
    await conn.until(() => !conn.open, deadline);
  }
  // The closing handshake, then the server closes TCP.
  if (conn.serverClose === null && conn.tcpClosedAt === null) {
    await conn.until(() => conn.serverClose !== null || conn.tcpClosedAt !== null, conn.clientClose ? timing.closeDeadlineMs : 0);
  }
  await conn.closeTcp(timing.closeDeadlineMs);

  // Judge the events (Autobahn's onConnectionLost).
  let behavior: Behavior = 'FAILED';
  for (const [name, ev] of expectations) {
    if (sameEvents(conn.received, ev)) { behavior = name; break; }
  }
  // Judge the closing.
  const serverInitiated =
    (conn.serverClose !== null && !(conn.clientClose?.first ?? false)) ||
    (conn.serverClose === null && conn.clientClose === null && conn.tcpEnd !== 'dropped-by-client');
  const closedByMe = !serverInitiated;
  // Clean: close frames went both ways. Who ended TCP is judged separately (FAILED BY CLIENT).
  const wasClean = conn.serverClose !== null && conn.clientClose !== null;
  const code = conn.serverClose?.code ?? null;
  let behaviorClose: Behavior;
  if (closedByMe !== spec.close.closedByMe) {
    behaviorClose = 'FAILED';
    notes.push(spec.close.closedByMe
      ? 'the server closed the connection although the client was to close it'
      : conn.tcpEnd === 'dropped-by-client' && conn.clientClose === null
        ? `the server did not fail the connection within ${deadline} ms`
        : 'the connection was failed by the wrong endpoint');
  } else if (spec.close.requireClean && !wasClean) {
    behaviorClose = 'UNCLEAN';
    notes.push('the closing handshake did not complete (no close frame from the server, or TCP went first)');
  } else if (code !== null && !spec.close.codes.includes(code)) {
    behaviorClose = 'WRONG CODE';
    notes.push(`the server's close code was ${code}, expected ${spec.close.codes.join(' or ')} (or none)`);
  } else if (conn.tcpEnd === 'dropped-by-client') {
    behaviorClose = 'FAILED BY CLIENT';
    notes.push(`the server did not close the TCP connection within ${timing.closeDeadlineMs} ms after the close frames`);
  } else {
    behaviorClose = 'OK';
  }
  if (spec.informational) {
    behavior = 'INFORMATIONAL';
    // Undefined by the spec, but the server must still end the connection itself.
    behaviorClose = conn.tcpEnd === 'dropped-by-client' ? 'FAILED BY CLIENT' : 'INFORMATIONAL';
    notes.length = 0;
    if (behaviorClose !== 'INFORMATIONAL') notes.push(`the server did not close the TCP connection within ${timing.closeDeadlineMs} ms`);
  }
  if (behavior === 'FAILED') {
    notes.push(`observed ${describeEvents(conn.received)}, expected ${expectations.map(([n, ev]) => `${n} ${describeEvents(ev)}`).join(' or ')}`);
  }
  let passed = (behavior === 'OK' || behavior === 'NON-STRICT' || behavior === 'INFORMATIONAL') &&
    (behaviorClose === 'OK' || behaviorClose === 'INFORMATIONAL') && conn.violations.length === 0;
  if (conn.violations.length) notes.push(`RFC 6455 violations by the server: ${conn.violations.join('; ')}`);
  if (passed && opts.requireFailFast && spec.failFast && behavior === 'NON-STRICT') {
    passed = false;
    notes.push('the server failed the connection only after the whole message/frame arrived, not as soon as the invalid UTF-8 byte arrived (fail-fast required)');
  }
  if (passed && opts.requireStrict && behavior === 'NON-STRICT') {
    passed = false;
    notes.push('NON-STRICT: strict ordering required (the replies to the valid messages before the failure, then the close)');
  }
  if (!opts.skipLiveness) {
    const problem = await checkAlive(url, timing);
    if (problem) { passed = false; notes.push(`after the case, ${problem}`); }
  }
  const close = conn.serverClose
    ? `server close ${conn.serverClose.code ?? '(empty)'}${conn.serverClose.reason.length ? ` "${conn.serverClose.reason.toString('utf8')}"` : ''}`
    : 'no close frame from the server';
  const report = `case ${spec.id} (${spec.title}): ${behavior} / ${behaviorClose}; ${close}; ` +
    `client close ${conn.clientClose ? (conn.clientClose.first ? 'sent first' : 'sent in reply') : 'not sent'}; ` +
    `TCP ended by ${conn.tcpEnd}${conn.tcpError ? ` (${conn.tcpError})` : ''}` + (notes.length ? `\n  - ${notes.join('\n  - ')}` : '');
  return { id: spec.id, behavior, behaviorClose, passed, report, ms: Date.now() - started };
}

/** A fresh connection still upgrades, echoes a text message and closes cleanly; returns a problem or null. */
export async function checkAlive(url: string, timing: Timing = DEFAULT_TIMING): Promise<string | null> {
  let conn: Connection;
  try {
    conn = await openConnection(url, { timeoutMs: 3000 });
  } catch (err) {
    return `a new connection fails: ${(err as Error).message}`;
  }
  const probe = bytes('still alive? ✓');
  await conn.write(buildFrame({ opcode: Op.TEXT, payload: probe }));
  const got = await conn.until(() => conn.received.length > 0 || !conn.open, 3000);
  const first = conn.received[0];
  let problem: string | null = null;
  if (!got || !first || first.type !== 'message' || first.binary || !first.data.equals(probe)) {
    problem = `a new connection does not echo a text message (observed ${describeEvents(conn.received)})`;
  }
  conn.sendClose(closePayload(1000));
  await conn.until(() => conn.serverClose !== null || conn.tcpClosedAt !== null, timing.closeDeadlineMs);
  await conn.closeTcp(timing.closeDeadlineMs);
  if (!problem && conn.serverClose?.code !== 1000) problem = `a new connection does not answer close 1000 with 1000 (got ${conn.serverClose?.code ?? 'no close frame'})`;
  if (!problem && conn.tcpEnd === 'dropped-by-client') problem = 'a new connection is not closed by the server after the closing handshake';
  if (!problem && conn.violations.length) problem = `a new connection sees violations: ${conn.violations.join('; ')}`;
  return problem;
}
