// Fault injection, for tests only: with RINGSOCKET_TEST_FAULT set in the daemon's environment, a
// text message that is exactly FAULT_TRIGGER makes the worker fail on purpose, so that tests can
// check how faults are contained (test/daemon-faults.test.ts). Unset (always, in production) it
// costs one null check per message.
//   RINGSOCKET_TEST_FAULT=client  an exception while handling that client's input: contained,
//                                 that client is closed with 1011, the worker serves on
//   RINGSOCKET_TEST_FAULT=worker  an uncaught exception in the worker thread: the thread dies and
//                                 the daemon stops with EXIT_WORKER_DIED (main.ts)

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

/** The hook for a RINGSOCKET_TEST_FAULT value (undefined or '' = none); throws for an unknown one. */
export function faultHook(mode: string | undefined): FaultHook | null {
  if (!mode) return null;
  if (mode === 'client') {
    return (p) => { if (isTrigger(p)) throw new Error(`injected fault (${FAULT_ENV}=client)`); };
  }
  if (mode === 'worker') {
    return (p) => {
      if (isTrigger(p)) setImmediate(() => { throw new Error(`injected crash (${FAULT_ENV}=worker)`); });
    };
  }
  throw new Error(`${FAULT_ENV}=${mode}: unknown mode (client or worker)`);
}
