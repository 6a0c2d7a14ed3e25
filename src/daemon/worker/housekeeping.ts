// Housekeeping, every HOUSEKEEPING_MS: server pings and the idle timeout, the worker-wide budget
// of unsent bytes (max_worker_outbound_size), and the inbound budget's deadlines (budget.ts).
import { CloseCode, Opcode } from '../../core/codes.ts';
import { encodeControlFrame } from '../frames.ts';
import type { Logger } from '../../log.ts';
import { Phase } from './conn.ts';
import type { Clients } from './clients.ts';
import type { Output } from './output.ts';
import type { InboundBudget } from './budget.ts';
import type { MetricsBlock } from '../../metrics/block.ts';

export const HOUSEKEEPING_MS = 500;

export interface HousekeepingOptions {
  /** idle_timeout, ping_interval (seconds, 0 = off) and max_worker_outbound_size (bytes, 0 = off). */
  idleTimeoutS: number;
  pingIntervalS: number;
  maxWorkerOutbound: number;
  clients: Clients;
  output: Output;
  budget: InboundBudget;
  log: Logger;
  /** This worker's metrics block (slow clients dropped); absent: not counted. */
  metrics?: MetricsBlock;
}

export class Housekeeping {
  readonly #o: HousekeepingOptions;
  static readonly #EMPTY = new Uint8Array(0);

  constructor(o: HousekeepingOptions) {
    this.#o = o;
  }

  /** idle_timeout, ping_interval, max_worker_outbound_size changed (a reload): from the next tick on. */
  configure(l: Pick<HousekeepingOptions, 'idleTimeoutS' | 'pingIntervalS' | 'maxWorkerOutbound'>): void {
    this.#o.idleTimeoutS = l.idleTimeoutS;
    this.#o.pingIntervalS = l.pingIntervalS;
    this.#o.maxWorkerOutbound = l.maxWorkerOutbound;
  }

  tick(now = Date.now()): void {
    this.#pingAndIdle(now);
    this.#o.budget.tick(now);
    if (this.#o.maxWorkerOutbound > 0) this.#outboundBudget();
  }

  #pingAndIdle(now: number): void {
    const { clients, output, log } = this.#o;
    const idleMs = this.#o.idleTimeoutS * 1000;
    const pingMs = this.#o.pingIntervalS * 1000;
    for (const c of clients.byId.values()) {
      if (c.phase !== Phase.WS) continue;
      const quiet = now - c.lastRx;
      // A client is pinged before it can be found idle, however late this tick runs.
      if (idleMs > 0 && quiet >= idleMs && (pingMs === 0 || c.pingSent)) {
        log.info(`client ${c.id}: idle for ${this.#o.idleTimeoutS}s: closing with 1001`, undefined, { client: c.id });
        clients.sendCloseCode(c, CloseCode.GOING_AWAY);
      } else if (pingMs > 0 && quiet >= pingMs && !c.pingSent) {
        c.pingSent = true;
        output.write(c, encodeControlFrame(Opcode.PING, Housekeeping.#EMPTY));
      }
    }
  }

  /**
   * max_worker_outbound_size: when the unsent bytes of all this worker's clients together pass the
   * budget, the clients with the largest backlogs are dropped (their sockets destroyed at once,
   * which frees the memory; a close frame would only queue behind what they do not read) until
   * the rest fits. Many slow readers together can then never hold more than the budget (plus what
   * arrives between two ticks).
   */
  #outboundBudget(): void {
    const { clients, log } = this.#o;
    let total = 0;
    for (const c of clients.all) total += c.socket.writableLength;
    const budget = this.#o.maxWorkerOutbound;
    if (total <= budget) return;
    const backlog = [...clients.all].filter((c) => c.socket.writableLength > 0 && !c.socket.destroyed);
    backlog.sort((a, b) => b.socket.writableLength - a.socket.writableLength);
    let dropped = 0;
    for (const c of backlog) {
      if (total <= budget) break;
      total -= c.socket.writableLength;
      c.closeCode = CloseCode.POLICY_VIOLATION;
      c.socket.destroy();
      dropped++;
    }
    this.#o.metrics?.slowDropped(dropped);
    log.notice(`unsent bytes of all clients passed max_worker_outbound_size (${budget}): dropped the ${dropped} client(s) with the largest backlogs`);
  }
}
