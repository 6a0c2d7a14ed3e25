// A thread's own metrics block (layout.ts): the only writer of its slots is the thread that made
// this object over its block. Increments are plain f64 stores into the shared memory; the sites
// that count call these small methods once per socket read, flush, drained batch or connection
// event, not per byte.
import { Slot, blockLayout, closeCodeSlot, statusSlot, type BlockLayout } from './layout.ts';

export class MetricsBlock {
  /** The block's slots (Slot, BlockLayout). */
  readonly f: Float64Array;
  readonly l: BlockLayout;

  constructor(buffer: ArrayBufferLike, at: number, layout: BlockLayout) {
    this.f = new Float64Array(buffer, at, layout.slots);
    this.l = layout;
  }

  /** A block in private memory, for parts built without a daemon (tests): counts go nowhere. */
  static detached(apps: number): MetricsBlock {
    const l = blockLayout(apps);
    return new MetricsBlock(new ArrayBuffer(l.bytes), 0, l);
  }

  bytesIn(n: number): void {
    this.f[Slot.BYTES_IN] += n;
  }

  bytesOut(n: number): void {
    this.f[Slot.BYTES_OUT] += n;
  }

  opened(app: number): void {
    this.f[this.l.opened + app]++;
  }

  /** A WebSocket connection of `app` is gone (its socket closed). */
  closed(app: number): void {
    this.f[this.l.closed + app]++;
  }

  /** A connection's close, by the code of the close that ended it (the first close frame, sent or received). */
  closeCode(code: number): void {
    this.f[this.l.closes + closeCodeSlot(code)]++;
  }

  messagesIn(app: number, n: number): void {
    this.f[this.l.msgIn + app] += n;
  }

  messagesOut(app: number, n: number): void {
    this.f[this.l.msgOut + app] += n;
  }

  /** An upgrade refused with `response` (a complete HTTP response: "HTTP/1.1 NNN ..."). */
  refused(response: Uint8Array): void {
    const status = response.length >= 12 ? (response[9] - 48) * 100 + (response[10] - 48) * 10 + (response[11] - 48) : 0;
    this.f[this.l.refused + statusSlot(status)]++;
    this.f[Slot.BYTES_OUT] += response.length;
  }

  slowClient(): void {
    this.f[Slot.SLOW_CLIENT]++;
  }

  slowDropped(n: number): void {
    this.f[Slot.SLOW_WORKER] += n;
  }

  appRestarted(app: number): void {
    this.f[this.l.restarts + app]++;
  }

  /** The cluster link (an app thread's block): up or down. */
  clusterUp(up: boolean): void {
    this.f[Slot.CLUSTER_UP] = up ? 1 : 0;
  }

  /** A publication Redis acknowledged. */
  clusterPublished(bytes: number): void {
    this.f[Slot.CLUSTER_PUBLISHED]++;
    this.f[Slot.CLUSTER_PUBLISHED_BYTES] += bytes;
  }

  clusterReceived(bytes: number): void {
    this.f[Slot.CLUSTER_RECEIVED]++;
    this.f[Slot.CLUSTER_RECEIVED_BYTES] += bytes;
  }

  clusterDropped(bytes: number): void {
    this.f[Slot.CLUSTER_DROPPED]++;
    this.f[Slot.CLUSTER_DROPPED_BYTES] += bytes;
  }

  clusterRefused(): void {
    this.f[Slot.CLUSTER_REFUSED]++;
  }

  /** The event-loop delay of the last period, in seconds (monitor.ts). */
  loopDelay(p99: number, max: number): void {
    this.f[Slot.ELD_P99] = p99;
    this.f[Slot.ELD_MAX] = max;
    this.f[Slot.ELD_SET] = 1;
  }
}
