// An app thread's link to Redis (issue 13): it publishes the app instance's cross-node batches
// (src/cluster/outbox.ts) and hands the batches other nodes publish to `onBatch`. One link per app
// thread, so a node's app instances never wait for each other.
//
// The client is node-redis (@redis/client). Delivery across nodes is at most once: while Redis is
// unreachable, publications are dropped at once (the client's offline queue is off), never queued;
// the client reconnects by itself, and subscribes again, after which delivery resumes. Published
// bytes that Redis has not acknowledged are bounded by max_pending_size; past it, publications are
// dropped too. Every drop is counted (the app thread's metrics block) and an outage is logged when it starts and ends.
//
// Redis 7 and later: sharded pub/sub (SSUBSCRIBE / SPUBLISH), so in a Redis Cluster an app's
// traffic stays within the shard that owns its channels' hash slot; older servers: PUBLISH /
// SUBSCRIBE. A server whose INFO says cluster_enabled:1 is used through node-redis's cluster client.
import type { Logger } from '../log.ts';
import type { ClusterConfig } from '../config/types.ts';
import { maskRedisUrl } from '../config/cluster.ts';
import { Slot } from '../metrics/layout.ts';
import type { MetricsBlock } from '../metrics/block.ts';
import type { Publication } from './outbox.ts';

export interface LinkOptions {
  cluster: ClusterConfig;
  appName: string;
  log: Logger;
  /** Claim this node's number in Redis (one link per daemon does: the first app's). */
  claim: boolean;
  /** A batch another node published for this app (a view: valid during the call). */
  onBatch(bytes: Uint8Array): void;
  /** The app thread's metrics block: the link's counts and its up gauge (src/metrics/block.ts). */
  metrics: MetricsBlock;
}

/** The channels of one app: both carry the hash tag {prefix:app}, so they share one slot. */
export function channelOf(prefix: string, app: string, to: 'all' | number): string {
  return `${prefix}:{${prefix}:${app}}:${to === 'all' ? 'all' : `node:${to}`}`;
}

/** The key a node holds its number under. */
export function nodeKeyOf(prefix: string, node: number): string {
  return `${prefix}:node:${node}`;
}

/** How long a node's claim on its number lives without being refreshed, and how often it is. */
const CLAIM_TTL_S = 30;
const CLAIM_REFRESH_MS = 10_000;
/**
 * Reconnection back-off: from 100 ms, doubling, at most 500 ms (a Redis that comes back is used
 * within about half a second), each wait 0-20 % longer at random so that the nodes of a cluster do
 * not all knock at the same moment.
 */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 500;
export function retryDelay(attempt: number): number {
  return Math.round(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt, 10)) * (1 + Math.random() * 0.2));
}
const CONNECT_TIMEOUT_MS = 2000;

// node-redis is typed for each command set; the link uses a handful of methods through these.
interface PubClient {
  isReady: boolean;
  sPublish(channel: string, message: Uint8Array): Promise<number>;
  publish(channel: string, message: Uint8Array): Promise<number>;
  set(key: string, value: string, opts: object): Promise<string | null>;
  get(key: string): Promise<string | null>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}
interface SubClient {
  sSubscribe(ch: string[], fn: (m: Buffer, ch: Buffer) => void, buffers: true): Promise<void>;
  subscribe(ch: string[], fn: (m: Buffer, ch: Buffer) => void, buffers: true): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

export class ClusterLink {
  readonly #o: LinkOptions;
  readonly #channels: { all: string; mine: string };
  #pub: PubClient | null = null;
  #sub: SubClient | null = null;
  #sharded = true;
  #pending = 0;
  #closed = false;
  /** Set once the first connection is subscribed: a 'ready' before that is not up yet. */
  #established = false;
  #up = false;
  #downSince = 0;
  #droppedAtDown = 0;
  #publishErrorSaid = false;
  #claimTimer: ReturnType<typeof setInterval> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(o: LinkOptions) {
    this.#o = o;
    const c = o.cluster;
    this.#channels = { all: channelOf(c.key_prefix, o.appName, 'all'), mine: channelOf(c.key_prefix, o.appName, c.node_number) };
  }

  /** Whether publications go out now. */
  get up(): boolean {
    return this.#up && this.#pub !== null && this.#pub.isReady;
  }

  /** Bytes published and not yet acknowledged. */
  get pending(): number {
    return this.#pending;
  }

  /** Connects in the background (retrying until it is closed); never throws. */
  start(): void {
    this.#downSince = Date.now();
    void this.#connect(0);
  }

  async #connect(attempt: number): Promise<void> {
    if (this.#closed) return;
    const { cluster, log } = this.#o;
    const redis = await import('@redis/client');
    let probe: PubClient | null = null;
    try {
      // One short-lived connection tells the server's version and whether it is a Redis Cluster.
      probe = redis.createClient({ url: cluster.redis_url, socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false } }) as unknown as PubClient;
      probe.on('error', () => {});
      await (probe as unknown as { connect(): Promise<unknown> }).connect();
      const info = await (probe as unknown as { info(s: string): Promise<string> }).info('server') + await (probe as unknown as { info(s: string): Promise<string> }).info('cluster');
      await probe.close().catch(() => {});
      probe = null;
      const version = /redis_version:(\d+)\.(\d+)/.exec(info);
      this.#sharded = version !== null && Number(version[1]) >= 7;
      const isCluster = /cluster_enabled:1/.test(info);
      if (this.#closed) return;
      const reconnectStrategy = retryDelay;
      const clientOptions = { url: cluster.redis_url, disableOfflineQueue: true, socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy } };
      let pub: PubClient, sub: SubClient;
      if (isCluster) {
        const u = new URL(cluster.redis_url);
        const defaults = { disableOfflineQueue: true, username: u.username ? decodeURIComponent(u.username) : undefined, password: u.password ? decodeURIComponent(u.password) : undefined, socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy, tls: u.protocol === 'rediss:' } };
        const c = redis.createCluster({ rootNodes: [{ url: cluster.redis_url }], defaults } as never) as unknown as PubClient & SubClient;
        pub = c;
        sub = c;
      } else {
        pub = redis.createClient(clientOptions) as unknown as PubClient;
        sub = redis.createClient(clientOptions) as unknown as SubClient;
      }
      this.#pub = pub;
      this.#sub = sub === (pub as unknown) ? null : sub;
      pub.on('error', () => {}); // state is followed through ready / end / reconnecting below
      pub.on('ready', () => {
        if (this.#established) this.#setUp(true, 'reconnected');
      });
      pub.on('reconnecting', () => this.#setUp(false, 'reconnecting'));
      pub.on('end', () => this.#setUp(false, 'connection closed'));
      if (this.#sub) this.#sub.on('error', () => {});
      await (pub as unknown as { connect(): Promise<unknown> }).connect();
      if (this.#sub) await (this.#sub as unknown as { connect(): Promise<unknown> }).connect();
      const listener = (m: Buffer) => this.#receive(m);
      const channels = [this.#channels.all, this.#channels.mine];
      if (this.#sharded) await sub.sSubscribe(channels, listener, true);
      else await sub.subscribe(channels, listener, true);
      if (this.#o.claim) {
        await this.#claim();
        this.#claimTimer = setInterval(() => void this.#claim(), CLAIM_REFRESH_MS);
        this.#claimTimer.unref?.();
      }
      this.#established = true;
      this.#setUp(true, `Redis ${version ? `${version[1]}.${version[2]}` : '?'}${isCluster ? ' cluster' : ''}, ${this.#sharded ? 'sharded pub/sub' : 'pub/sub'}`);
    } catch (err) {
      probe?.destroy();
      this.#teardown();
      if (this.#closed) return;
      if (attempt === 0) log.warning(`cluster: Redis at ${maskRedisUrl(cluster.redis_url)} is unreachable (${(err as Error).message}): cross-node messages are dropped until it answers; retrying`);
      const wait = retryDelay(attempt);
      this.#retryTimer = setTimeout(() => void this.#connect(attempt + 1), wait);
    }
  }

  #setUp(up: boolean, why: string): void {
    if (up === this.#up) return;
    this.#up = up;
    const { log, cluster } = this.#o;
    if (up) {
      const lost = this.#dropped() - this.#droppedAtDown;
      const secs = ((Date.now() - this.#downSince) / 1000).toFixed(1);
      log.notice(`cluster: node "${cluster.node_id}" (${cluster.node_number}) linked through ${maskRedisUrl(cluster.redis_url)} (${why})${this.#downSince && lost ? `; ${lost} publications dropped in the ${secs}s without it` : ''}`);
    } else {
      this.#downSince = Date.now();
      this.#droppedAtDown = this.#dropped();
      log.warning(`cluster: lost Redis (${why}): cross-node messages are dropped until it is back`);
    }
    this.#o.metrics.clusterUp(up);
  }

  #dropped(): number {
    return this.#o.metrics.f[Slot.CLUSTER_DROPPED];
  }

  /** Claims this node's number: another node_id holding it means two names share one number. */
  async #claim(): Promise<void> {
    const { cluster, log } = this.#o;
    const pub = this.#pub;
    if (!pub || !pub.isReady) return;
    const key = nodeKeyOf(cluster.key_prefix, cluster.node_number);
    try {
      const holder = await pub.get(key);
      if (holder !== null && holder !== cluster.node_id) {
        log.error(`cluster: node number ${cluster.node_number} is held by node "${holder}" too: client ids of the two nodes collide; give one of them another node_id`);
        return;
      }
      await pub.set(key, cluster.node_id, { EX: CLAIM_TTL_S });
    } catch {
      // Redis went away: the next refresh tries again.
    }
  }

  #receive(m: Buffer): void {
    this.#o.metrics.clusterReceived(m.length);
    try {
      this.#o.onBatch(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    } catch (err) {
      this.#o.metrics.clusterRefused();
      this.#o.log.error(`cluster: a batch from Redis was refused: ${(err as Error).message}`);
    }
  }

  /** Publishes `p`, or drops it (counted) when Redis is unreachable or max_pending_size is reached. */
  publish(p: Publication): void {
    const len = p.bytes.length;
    const pub = this.#pub;
    if (!this.up || !pub || this.#pending + len > this.#o.cluster.max_pending_size) {
      this.#o.metrics.clusterDropped(len);
      return;
    }
    this.#pending += len;
    const channel = p.to === 'all' ? this.#channels.all : channelOf(this.#o.cluster.key_prefix, this.#o.appName, p.to);
    // node-redis takes a Buffer (a view of the batch, no copy), not any Uint8Array.
    const bytes = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, len);
    const sent = this.#sharded ? pub.sPublish(channel, bytes) : pub.publish(channel, bytes);
    sent.then(
      () => {
        this.#pending -= len;
        this.#o.metrics.clusterPublished(len);
      },
      (err: Error) => {
        this.#pending -= len;
        this.#o.metrics.clusterDropped(len);
        // Going offline fails what was in flight, which the outage's own lines cover; anything else is said once.
        if (this.#up && !this.#publishErrorSaid) {
          this.#publishErrorSaid = true;
          this.#o.log.error(`cluster: a publish failed: ${err.message}`);
        }
      },
    );
  }

  #teardown(): void {
    if (this.#claimTimer) clearInterval(this.#claimTimer);
    this.#claimTimer = null;
    const pub = this.#pub, sub = this.#sub;
    this.#pub = null;
    this.#sub = null;
    try { pub?.destroy(); } catch { /* already closed */ }
    try { sub?.destroy(); } catch { /* already closed */ }
  }

  /** Closes the link (a stopping app thread). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#up = false;
    this.#o.metrics.clusterUp(false);
    this.#teardown();
  }
}
