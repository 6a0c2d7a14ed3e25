// Fault injection, for tests only: with RINGSOCKET_TEST_FAULT set in the daemon's environment, a
// text message that is exactly FAULT_TRIGGER makes the worker fail on purpose, so that tests can
// check how faults are contained (test/daemon-faults.test.ts). Unset (always, in production) it
// costs one null check per message.
//   RINGSOCKET_TEST_FAULT=client  an exception while handling that client's input: contained,
//                                 that client is closed with 1011, the worker serves on
//   RINGSOCKET_TEST_FAULT=worker  an uncaught exception in the worker thread: the thread dies and
//                                 the daemon stops with EXIT_WORKER_DIED (main.ts)
//   RINGSOCKET_TEST_FAULT=stop    the worker thread dies when it is asked to stop (no trigger
//                                 message): the daemon still exits with EXIT_WORKER_DIED

export const FAULT_TRIGGER = 'ringsocket-test-fault';
export const FAULT_ENV = 'RINGSOCKET_TEST_FAULT';

/** Called with every single-frame message's payload when fault injection is on. */
export type FaultHook = (payload: Uint8Array) => void;

const trigger = new TextEncoder().encode(FAULT_TRIGGER);

function isTrigger(p: Uint8Array): boolean {
  if (p.length !== trigger.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== trigger[i]) return false;
  return true;
}

const crashError = (mode: string) => new Error(`injected crash (${FAULT_ENV}=${mode})`);
const crash = (mode: string) => setImmediate(() => { throw crashError(mode); });

export interface Faults {
  /** Sees every single-frame message's payload (null: no fault on messages). */
  onMessage: FaultHook | null;
  /** Called when the main thread asks the worker to stop. */
  onStop(): void;
}

/** The faults for a RINGSOCKET_TEST_FAULT value (undefined or '' = none); throws for an unknown one. */
export function parseFaults(mode: string | undefined): Faults {
  const none: Faults = { onMessage: null, onStop() {} };
  if (!mode) return none;
  if (mode === 'client') {
    return { ...none, onMessage: (p) => { if (isTrigger(p)) throw new Error(`injected fault (${FAULT_ENV}=client)`); } };
  }
  if (mode === 'worker') return { ...none, onMessage: (p) => { if (isTrigger(p)) crash(mode); } };
  if (mode === 'stop') return { ...none, onStop: () => { throw crashError(mode); } };
  throw new Error(`${FAULT_ENV}=${mode}: unknown mode (client, worker or stop)`);
}
