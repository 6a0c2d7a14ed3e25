// The inbound producer: this worker's side of the worker -> app rings. Records are staged and
// published once per event-loop turn; a record that finds its ring full waits, in order, in the
// app's pending queue, and reads from that app's clients pause (TCP back-pressure) until the
// queue has gone into the ring (docs/design.md, "Back-pressure").
import type { Core } from '../../core/wasm.ts';
import type { Ring } from '../../core/ring.ts';
import { IN_CLIENT_ID } from '../records.ts';
import type { Logger } from '../../log.ts';

/** Where to write a record: in the ring (pending null) or in a waiting Buffer. */
export interface Reserved {
  ptr: number;
  size: number;
  u8: Uint8Array;
  dv: DataView;
  pending: Buffer | null;
}

export interface InboundOptions {
  core: Core;
  rings: readonly Ring[];
  appNames: readonly string[];
  log: Logger;
  /** Stops (true) or resumes (false) reading from every client of an app. */
  pauseClients(app: number, paused: boolean): void;
}

export class InboundProducer {
  readonly #core: Core;
  readonly #rings: readonly Ring[];
  readonly #names: readonly string[];
  readonly #log: Logger;
  readonly #pauseClients: (app: number, paused: boolean) => void;
  readonly #f64: Float64Array;
  /** Records that did not fit into a full ring, in order, per app. */
  readonly #pending: Buffer[][];
  /** Bytes in #pending, all apps together. */
  #pendingBytes = 0;
  /** Records produced so far per app (ring + pending): the next record's sequence number. */
  readonly #produced: number[];
  /** Apps whose ring has staged, unpublished records. */
  readonly #staged: boolean[];
  #stagedAny = 0;
  #publishScheduled = false;
  /** Apps whose ring is full: their clients' sockets are paused. */
  readonly #paused: boolean[];
  #pausedApps = 0;
  /** Reused for the common case (the record goes straight into the ring): no allocation. */
  readonly #direct: Reserved;
  readonly #publishNow = () => this.publish();

  constructor(o: InboundOptions) {
    this.#core = o.core;
    this.#rings = o.rings;
    this.#names = o.appNames;
    this.#log = o.log;
    this.#pauseClients = o.pauseClients;
    this.#f64 = new Float64Array(o.core.memory.buffer);
    const A = o.rings.length;
    this.#pending = Array.from({ length: A }, () => []);
    this.#produced = new Array(A).fill(0);
    this.#staged = new Array(A).fill(false);
    this.#paused = new Array(A).fill(false);
    this.#direct = { ptr: 0, size: 0, u8: o.core.u8, dv: o.core.dv, pending: null };
  }

  /** The largest record `app`'s ring takes (a larger one would never fit). */
  maxRecord(app: number): number {
    return this.#rings[app].maxRecord;
  }

  /** The sequence number the next record for `app` gets. */
  nextSeq(app: number): number {
    return this.#produced[app];
  }

  /** Whether reads from `app`'s clients are paused because its ring is full. */
  isPaused(app: number): boolean {
    return this.#paused[app];
  }

  /** Apps whose ring is full. */
  get pausedApps(): number {
    return this.#pausedApps;
  }

  /** Bytes of records waiting for room in a full ring. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Room for a record of `size` bytes: in the ring when it has room, else in a waiting Buffer. */
  reserve(app: number, size: number): Reserved {
    if (this.#pending[app].length === 0) {
      const ptr = this.#rings[app].reserve(size);
      if (ptr !== 0) {
        const d = this.#direct;
        d.ptr = ptr;
        d.size = size;
        return d;
      }
    }
    // The ring is full (or earlier records are already waiting): keep the record in order and stop
    // reading from sockets until the app catches up. At most what was already read stays here.
    const b = Buffer.alloc(size);
    const ring = this.#rings[app];
    if (this.#staged[app]) {
      this.#staged[app] = false;
      this.#stagedAny--;
      ring.publish();
    }
    // Ask the app to wake this worker when it frees room: the wake loop may be asleep already and
    // would otherwise find out only at its next wake-up (an outbound record, or its 1 s tick).
    // A ring that rewound (assembly/ring.ts "Rewind") can be "full" with few bytes in it, until the
    // app releases the record after the marker: this is how the worker hears of that at once.
    ring.wantSpace();
    this.#pause(app);
    return { ptr: 0, size, u8: b, dv: new DataView(b.buffer, b.byteOffset, b.byteLength), pending: b };
  }

  /** Writes the 16-byte record header (records.ts, "Inbound header"). */
  writeHeader(rec: Reserved, kind: number, dataKind: number, endpointId: number, clientId: number): void {
    const at = rec.ptr;
    const b = rec.u8;
    b[at] = kind;
    b[at + 1] = dataKind;
    b[at + 2] = endpointId & 0xff;
    b[at + 3] = endpointId >>> 8;
    if (rec.pending === null) {
      // In the ring the client id is 8-byte aligned (records.ts).
      this.#f64[(at + IN_CLIENT_ID) >>> 3] = clientId;
      this.#core.u32[(at + 12) >>> 2] = 0;
    } else {
      rec.dv.setFloat64(at + IN_CLIENT_ID, clientId, true);
      rec.dv.setUint32(at + 12, 0, true);
    }
  }

  /** Adds a reserved, written record to what the app will see. */
  commit(app: number, rec: Reserved): void {
    this.#produced[app]++;
    if (rec.pending) {
      this.#pending[app].push(rec.pending);
      this.#pendingBytes += rec.pending.length;
      return;
    }
    // Staged, not published: every record of this event-loop turn becomes visible with one atomic
    // store (and at most one wake-up of the app) in publish, after all socket reads of the turn
    // (setImmediate runs after the poll phase).
    this.#rings[app].stage(rec.size);
    if (!this.#staged[app]) {
      this.#staged[app] = true;
      this.#stagedAny++;
      if (!this.#publishScheduled) {
        this.#publishScheduled = true;
        setImmediate(this.#publishNow);
      }
    }
  }

  /** Publishes every ring's staged records. */
  publish(): void {
    this.#publishScheduled = false;
    if (this.#stagedAny === 0) return;
    for (let a = 0; a < this.#staged.length; a++) {
      if (!this.#staged[a]) continue;
      this.#staged[a] = false;
      this.#rings[a].publish();
    }
    this.#stagedAny = 0;
  }

  /** Moves waiting records into their rings while there is room; returns how many it moved. */
  flushPending(): number {
    let moved = 0;
    const u8 = this.#core.u8;
    for (let a = 0; a < this.#pending.length; a++) {
      const q = this.#pending[a];
      const ring = this.#rings[a];
      while (q.length) {
        const b = q[0];
        const ptr = ring.reserve(b.length);
        if (ptr === 0) break;
        u8.set(b, ptr);
        ring.commit(b.length);
        q.shift();
        this.#pendingBytes -= b.length;
        moved++;
      }
    }
    return moved;
  }

  /** Whether any app has records waiting. */
  anyPending(): boolean {
    return this.#pendingBytes > 0;
  }

  /** Asks every app with waiting records to wake this worker when it frees room. */
  wantSpace(): void {
    for (let a = 0; a < this.#pending.length; a++) if (this.#pending[a].length) this.#rings[a].wantSpace();
  }

  /** Resumes the clients of every app whose waiting records all went into its ring. */
  resumeApps(): void {
    for (let a = 0; a < this.#paused.length; a++) {
      if (!this.#paused[a] || this.#pending[a].length) continue;
      this.#paused[a] = false;
      this.#pausedApps--;
      this.#log.debug(`inbound ring of app ${this.#names[a]} has room: resuming reads`);
      this.#pauseClients(a, false);
    }
  }

  /**
   * The app's thread is gone: forget its waiting and staged records (nobody will read them; its
   * rings are initialised again before a new thread starts) and its pause.
   */
  dropApp(app: number): void {
    for (const b of this.#pending[app]) this.#pendingBytes -= b.length;
    this.#pending[app].length = 0;
    if (this.#staged[app]) {
      this.#staged[app] = false;
      this.#stagedAny--;
    }
    if (this.#paused[app]) {
      this.#paused[app] = false;
      this.#pausedApps--;
    }
  }

  /** A new thread of the app runs over freshly initialised rings: its record count starts at 0. */
  appUp(app: number): void {
    this.#produced[app] = 0;
  }

  #pause(app: number): void {
    if (this.#paused[app]) return;
    this.#paused[app] = true;
    this.#pausedApps++;
    this.#log.debug(`inbound ring of app ${this.#names[app]} full: pausing reads from its clients`);
    this.#pauseClients(app, true);
  }
}
