// An app thread's link to Redis (issue 13): it publishes the app instance's cross-node batches
// (src/cluster/outbox.ts) and hands the batches other nodes publish to `onBatch`. One link per app
// thread, so a node's app instances never wait for each other.
//
// The client is node-redis (@redis/client). Delivery across nodes is at most once: while Redis is
// unreachable, publications are dropped at once (the client's offline queue is off), never queued;
// the client reconnects by itself, and subscribes again, after which delivery resumes. Published
// bytes that Redis has not acknowledged are bounded by max_pending_size; past it, publications are
// dropped too. Every drop is counted in the app thread's metrics block, and the link's state (up
// while both connections, or every node of a Redis Cluster, are ready and this daemon holds its node
// number) is the ringsocket_cluster_up gauge and a log line at each change.
//
// Redis 7 and later: sharded pub/sub (SSUBSCRIBE / SPUBLISH), so in a Redis Cluster an app's
// traffic stays within the shard that owns its channels' hash slot; older servers: PUBLISH /
// SUBSCRIBE. A server whose INFO says cluster_enabled:1 is used through node-redis's cluster client.
//
// The node number: each link claims `<prefix>:node:<n>` with "<node_id> <run token>" (the token is
// the daemon's, the same in all its app threads). A claim held by anyone else (another node_id with
// the same number, another daemon with this node_id, or this node's previous run that crashed less
// than CLAIM_TTL_S ago) keeps the link down until it is gone: two daemons on one number would hand
// out the same client ids. A link that closes gives its claim up.
import type { Logger } from '../log.ts';
import type { ClusterConfig } from '../config/types.ts';
import { maskRedisUrl } from '../config/cluster.ts';
import { Slot } from '../metrics/layout.ts';
import type { MetricsBlock } from '../metrics/block.ts';
import type { Publication } from './outbox.ts';
import { RateLimitedLog } from './rate-log.ts';

export interface LinkOptions {
  cluster: ClusterConfig;
  appName: string;
  log: Logger;
  /** The daemon's run token (random, one per daemon process): its claim on the node number. */
  runToken: string;
  /** A batch another node published for this app (a view: valid during the call). */
  onBatch(bytes: Uint8Array): void;
  /** The app thread's metrics block: the link's counts and its up gauge (src/metrics/block.ts). */
  metrics: MetricsBlock;
}

/**
 * Where a cluster's channels live. Pub/sub ignores the database number, so a database other than 0
 * becomes part of the name: clusters on /1 and /2 of one Redis do not hear each other.
 */
export function channelSpace(cluster: Pick<ClusterConfig, 'key_prefix' | 'redis_url'>): string {
  const db = Number(new URL(cluster.redis_url).pathname.slice(1) || 0);
  return db === 0 ? cluster.key_prefix : `${cluster.key_prefix}.db${db}`;
}

/** The channels of one app: both carry the hash tag {space:app}, so they share one slot. */
export function channelOf(space: string, app: string, to: 'all' | number): string {
  return `${space}:{${space}:${app}}:${to === 'all' ? 'all' : `node:${to}`}`;
}

/** The key a node holds its number under. */
function nodeKeyOf(prefix: string, node: number): string {
  return `${prefix}:node:${node}`;
}

/** How long a node's claim on its number lives without being refreshed, and how often it is. */
const CLAIM_TTL_S = 30;
const CLAIM_REFRESH_MS = 10_000;
/** How often a link kept down by someone else's claim looks again. */
const CLAIM_RETRY_MS = 2000;
/**
 * Reconnection back-off: from RETRY_MIN_MS, doubling, at most RETRY_MAX_MS (a Redis that comes
 * back is used within about half a second), each wait up to RETRY_JITTER longer at random so that
 * the nodes of a cluster do not all knock at the same moment.
 */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 500;
const RETRY_JITTER = 0.2;
export function retryDelay(attempt: number): number {
  const doublings = Math.min(attempt, Math.log2(RETRY_MAX_MS / RETRY_MIN_MS) + 1);
  return Math.round(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** doublings) * (1 + Math.random() * RETRY_JITTER));
}
const CONNECT_TIMEOUT_MS = 2000;
/** How long a closing link waits for Redis to drop its claim. */
const RELEASE_TIMEOUT_MS = 500;

// node-redis is typed for each command set; the link uses a handful of methods through this.
interface Client {
  isReady: boolean;
  connect(): Promise<unknown>;
  info(section: string): Promise<string>;
  sPublish(channel: string, message: Buffer): Promise<number>;
  publish(channel: string, message: Buffer): Promise<number>;
  sSubscribe(ch: string[], fn: (m: Buffer) => void, buffers: true): Promise<void>;
  subscribe(ch: string[], fn: (m: Buffer) => void, buffers: true): Promise<void>;
  set(key: string, value: string, opts: object): Promise<string | null>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

export class ClusterLink {
  readonly #o: LinkOptions;
  readonly #space: string;
  readonly #channels: { all: string; mine: string };
  readonly #claimValue: string;
  #pub: Client | null = null;
  /** The subscriber: the same object as #pub for a Redis Cluster. */
  #sub: Client | null = null;
  #sharded = true;
  #pending = 0;
  #closed = false;
  /** Connections (or cluster nodes) not ready now, by name. */
  readonly #notReady = new Set<string>();
  #established = false;
  /** This daemon holds its node number in Redis. */
  #holds = false;
  #up = false;
  #downSince = 0;
  #droppedAtDown = 0;
  #publishErrorSaid = false;
  #lastConnectError = '';
  #lastClaimProblem = '';
  #claimTimer: ReturnType<typeof setTimeout> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #refusedLog: RateLimitedLog;

  constructor(o: LinkOptions) {
    this.#o = o;
    const c = o.cluster;
    this.#space = channelSpace(c);
    this.#channels = { all: channelOf(this.#space, o.appName, 'all'), mine: channelOf(this.#space, o.appName, c.node_number) };
    this.#claimValue = `${c.node_id} ${o.runToken}`;
    this.#refusedLog = new RateLimitedLog(o.log, 'error');
  }

  /** Connects in the background (retrying until it is closed); never throws. */
  start(): void {
    this.#downSince = Date.now();
    this.#o.metrics.clusterUp(false);
    void this.#connect(0);
  }

  async #connect(attempt: number): Promise<void> {
    if (this.#closed) return;
    const { cluster, log } = this.#o;
    let probe: Client | null = null;
    try {
      const redis = await import('@redis/client');
      // One short-lived connection tells the server's version and whether it is a Redis Cluster.
      probe = redis.createClient({ url: cluster.redis_url, socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false } }) as unknown as Client;
      probe.on('error', () => {});
      await probe.connect();
      const info = (await probe.info('server')) + (await probe.info('cluster'));
      await probe.close().catch(() => {});
      probe = null;
      if (this.#closed) return;
      const version = /redis_version:(\d+)\.(\d+)/.exec(info);
      this.#sharded = version !== null && Number(version[1]) >= 7;
      const isCluster = /cluster_enabled:1/.test(info);
      const socket = { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: retryDelay };
      if (isCluster) {
        const u = new URL(cluster.redis_url);
        const defaults = {
          disableOfflineQueue: true,
          username: u.username ? decodeURIComponent(u.username) : undefined,
          password: u.password ? decodeURIComponent(u.password) : undefined,
          socket: { ...socket, tls: u.protocol === 'rediss:' },
        };
        const c = redis.createCluster({ rootNodes: [{ url: cluster.redis_url }], defaults } as never) as unknown as Client;
        this.#pub = this.#sub = c;
        c.on('error', () => {});
        c.on('node-error', () => {});
        // A cluster client has no ready / reconnecting of its own: its nodes' connections do.
        const name = (n: unknown) => { const i = n as { host: string; port: number }; return `${i.host}:${i.port}`; };
        c.on('node-reconnecting', (n) => this.#connection(name(n), false, 'reconnecting'));
        c.on('node-disconnect', (n) => this.#connection(name(n), false, 'disconnected'));
        c.on('node-ready', (n) => this.#connection(name(n), true, 'ready'));
        await c.connect();
      } else {
        const options = { url: cluster.redis_url, disableOfflineQueue: true, socket };
        const pub = redis.createClient(options) as unknown as Client;
        const sub = redis.createClient(options) as unknown as Client;
        this.#pub = pub;
        this.#sub = sub;
        for (const [c, name] of [[pub, 'publisher'], [sub, 'subscriber']] as const) {
          c.on('error', () => {}); // the state follows ready / reconnecting / end below
          c.on('ready', () => this.#connection(name, true, 'ready'));
          c.on('reconnecting', () => this.#connection(name, false, 'reconnecting'));
          c.on('end', () => this.#connection(name, false, 'connection closed'));
        }
        await pub.connect();
        await sub.connect();
      }
      if (this.#closed) return this.#teardown();
      const listener = (m: Buffer) => this.#receive(m);
      const channels = [this.#channels.all, this.#channels.mine];
      if (this.#sharded) await this.#sub!.sSubscribe(channels, listener, true);
      else await this.#sub!.subscribe(channels, listener, true);
      if (this.#closed) return this.#teardown();
      this.#lastConnectError = '';
      await this.#claim();
      if (this.#closed) return this.#teardown();
      this.#established = true;
      this.#update(`Redis ${version ? `${version[1]}.${version[2]}` : '?'}${isCluster ? ' cluster' : ''}, ${this.#sharded ? 'sharded pub/sub' : 'pub/sub'}`);
    } catch (err) {
      probe?.destroy();
      this.#teardown();
      if (this.#closed) return;
      const why = (err as Error).message;
      // Said when the cause changes (refused, then NOAUTH once Redis is up with a password ...), not at every retry.
      if (why !== this.#lastConnectError) {
        this.#lastConnectError = why;
        log.warning(`cluster: cannot link through ${maskRedisUrl(cluster.redis_url)} (${why}): cross-node messages are dropped until it can; retrying`);
      }
      this.#retryTimer = setTimeout(() => void this.#connect(attempt + 1), retryDelay(attempt));
    }
  }

  /** A connection (or a cluster node) became ready or not. */
  #connection(name: string, ready: boolean, why: string): void {
    if (ready) this.#notReady.delete(name);
    else this.#notReady.add(name);
    if (this.#established) this.#update(`${name} ${why}`);
  }

  /** Sets the link up or down from the connections' state and the claim, and says so when it changes. */
  #update(why: string): void {
    const up = this.#established && !this.#closed && this.#holds && this.#notReady.size === 0;
    if (up === this.#up) return;
    this.#up = up;
    const { log, cluster } = this.#o;
    if (up) {
      this.#publishErrorSaid = false;
      const lost = this.#dropped() - this.#droppedAtDown;
      const secs = ((Date.now() - this.#downSince) / 1000).toFixed(1);
      log.notice(`cluster: node "${cluster.node_id}" (${cluster.node_number}) linked through ${maskRedisUrl(cluster.redis_url)} (${why})${lost ? `; ${lost} publications dropped in the ${secs}s without it` : ''}`);
    } else {
      this.#downSince = Date.now();
      this.#droppedAtDown = this.#dropped();
      if (!this.#closed) log.warning(`cluster: lost Redis (${why}): cross-node messages are dropped until it is back`);
    }
    this.#o.metrics.clusterUp(up);
  }

  #dropped(): number {
    return this.#o.metrics.f[Slot.CLUSTER_DROPPED];
  }

  /**
   * Takes or refreshes this daemon's claim on its node number, and schedules the next look. A
   * claim someone else holds keeps the link down (logged when the holder changes).
   */
  async #claim(): Promise<void> {
    const { cluster, log } = this.#o;
    const pub = this.#pub;
    const key = nodeKeyOf(cluster.key_prefix, cluster.node_number);
    let problem = '';
    try {
      if (pub && pub.isReady) {
        const taken = await pub.set(key, this.#claimValue, { NX: true, EX: CLAIM_TTL_S });
        const holder = taken === 'OK' ? this.#claimValue : await pub.get(key);
        if (holder === this.#claimValue) {
          if (taken !== 'OK') await pub.set(key, this.#claimValue, { XX: true, EX: CLAIM_TTL_S });
          this.#holds = true;
        } else if (holder !== null) {
          this.#holds = false;
          const holderId = holder.split(' ')[0];
          problem = holderId === cluster.node_id
            ? `node number ${cluster.node_number} is held by another run of node_id "${cluster.node_id}": this node's previous run (its claim lapses within ${CLAIM_TTL_S}s of a crash) or another daemon with the same node_id; not linking until it is gone`
            : `node number ${cluster.node_number} is held by node "${holderId}" too (their node_ids hash to one number): client ids of the two would collide; give one of them another node_id. Not linking`;
        }
      }
    } catch (err) {
      // Redis went away mid-claim: the connection state says so, and the next look tries again.
      // Anything else (an ACL that forbids SET on the key, say) would keep the link down for
      // good: it is said, like a claim held elsewhere.
      if (pub?.isReady) {
        this.#holds = false;
        problem = `cannot claim node number ${cluster.node_number} (${(err as Error).message}); not linking until it can`;
      }
    }
    if (this.#closed) return;
    if (problem !== this.#lastClaimProblem) {
      this.#lastClaimProblem = problem;
      if (problem) log.error(`cluster: ${problem}`);
    }
    if (this.#established) this.#update(problem ? 'claim held elsewhere' : 'node number claimed');
    this.#claimTimer = setTimeout(() => void this.#claim(), this.#holds ? CLAIM_REFRESH_MS : CLAIM_RETRY_MS);
    this.#claimTimer.unref?.();
  }

  #receive(m: Buffer): void {
    if (!this.#up) return; // not linked (a claim held elsewhere): this node takes no part
    this.#o.metrics.clusterReceived(m.length);
    try {
      this.#o.onBatch(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    } catch (err) {
      this.#o.metrics.clusterRefused();
      this.#refusedLog.say(`cluster: a batch from Redis was refused: ${(err as Error).message}`);
    }
  }

  /**
   * Publishes `p`, or drops it (counted) when the link is down or max_pending_size is reached. One
   * publication always goes out when nothing is pending, whatever its size.
   */
  publish(p: Publication): void {
    const len = p.bytes.length;
    const pub = this.#pub;
    if (!this.#up || !pub || (this.#pending > 0 && this.#pending + len > this.#o.cluster.max_pending_size)) {
      this.#o.metrics.clusterDropped(len);
      return;
    }
    this.#pending += len;
    const channel = p.to === 'all' ? this.#channels.all : channelOf(this.#space, this.#o.appName, p.to);
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
        // Going offline fails what was in flight, which the outage's own lines cover; anything else is said once per link-up.
        if (this.#up && !this.#publishErrorSaid) {
          this.#publishErrorSaid = true;
          this.#o.log.error(`cluster: a publish failed: ${err.message}`);
        }
      },
    );
  }

  #teardown(): void {
    if (this.#claimTimer) clearTimeout(this.#claimTimer);
    this.#claimTimer = null;
    const pub = this.#pub, sub = this.#sub;
    this.#pub = null;
    this.#sub = null;
    this.#established = false;
    this.#notReady.clear();
    try { pub?.destroy(); } catch { /* already closed */ }
    try { if (sub !== pub) sub?.destroy(); } catch { /* already closed */ }
  }

  /** Closes the link (a stopping app thread), giving up the claim on the node number if it holds it. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#claimTimer) clearTimeout(this.#claimTimer);
    this.#update('closing');
    const pub = this.#pub;
    if (this.#holds && pub && pub.isReady) {
      const key = nodeKeyOf(this.#o.cluster.key_prefix, this.#o.cluster.node_number);
      const release = (async () => { if ((await pub.get(key)) === this.#claimValue) await pub.del(key); })().catch(() => {});
      await Promise.race([release, new Promise((r) => setTimeout(r, RELEASE_TIMEOUT_MS).unref?.())]);
    }
    this.#holds = false;
    this.#teardown();
  }
}
