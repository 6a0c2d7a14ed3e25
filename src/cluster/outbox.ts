// What an app instance sends to clients of other nodes, gathered over one batch of its work and
// turned into publications at the batch's end (src/daemon/app-thread.ts publishOut). Pure.
//
// One batch makes one publication when it holds a broadcast (every / every-except): the whole batch
// goes to the app's channel that every node reads. A batch of direct messages only (single, multi,
// close) makes one publication per node it names, on that node's channel, with only that node's ids:
// a node never receives another node's direct messages. Both channels of an app carry one Redis hash
// tag, so they live in one shard and a node receives them in the order they were published
// (src/cluster/link.ts): messages from one app instance to one client stay in order.
import { encodeBatch, entrySize, Remote, type RemoteEntry, type RemoteKind } from './batch.ts';
import { nodeOfClient } from './ids.ts';

/** Where a publication goes: every node ('all'), or one node by number. */
export interface Publication {
  to: 'all' | number;
  bytes: Uint8Array;
}

/** How many encoded bytes an outbox gathers before it asks to be flushed early. */
export const OUTBOX_FLUSH_AT = 1 << 20;

export class Outbox {
  #entries: RemoteEntry[] = [];
  #broadcast = false;
  #size = 0;

  /** This app instance's node number (src/cluster/ids.ts). */
  readonly node: number;
  readonly flushAt: number;

  constructor(node: number, flushAt = OUTBOX_FLUSH_AT) {
    this.node = node;
    this.flushAt = flushAt;
  }

  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /** Encoded bytes gathered so far (entries only). */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds an entry; `ids` are copied, and so is `payload` (it is only valid during the call). Ids of
   * this node are the caller's to leave out. True when the outbox has reached flushAt.
   */
  add(kind: RemoteKind, opcode: number, ids: readonly number[], payload: Uint8Array): boolean {
    this.#entries.push({ kind, opcode, ids: ids.slice(), payload: payload.slice() });
    if (kind === Remote.EVERY || kind === Remote.EVERY_EXCEPT) this.#broadcast = true;
    this.#size += entrySize(ids.length, payload.length);
    return this.#size >= this.flushAt;
  }

  /** The publications for what was gathered (and the outbox is empty again). */
  take(): Publication[] {
    const entries = this.#entries;
    const broadcast = this.#broadcast;
    this.#entries = [];
    this.#broadcast = false;
    this.#size = 0;
    if (entries.length === 0) return [];
    if (broadcast) return [{ to: 'all', bytes: encodeBatch(this.node, entries) }];
    const perNode = new Map<number, RemoteEntry[]>();
    for (const e of entries) {
      // A direct entry's ids, split by node (in the order the ids were given).
      const split = new Map<number, number[]>();
      for (const id of e.ids) {
        const n = nodeOfClient(id);
        let list = split.get(n);
        if (!list) split.set(n, (list = []));
        list.push(id);
      }
      for (const [n, ids] of split) {
        let list = perNode.get(n);
        if (!list) perNode.set(n, (list = []));
        list.push(ids.length === e.ids.length ? e : { kind: e.kind, opcode: e.opcode, ids, payload: e.payload });
      }
    }
    const out: Publication[] = [];
    for (const [n, list] of perNode) out.push({ to: n, bytes: encodeBatch(this.node, list) });
    return out;
  }
}
