// The chat room's member list: this node's clients, and in a cluster every other node's too
// (README.md, "Scale-out with Redis", "Sharing app state between nodes").
//
// Every node of a cluster runs the chat, and its instance sees only its own clients open, rename
// and close. So that `list` and `whisper` know everyone, each instance keeps the whole room in one
// Map (`Room.names`) that the callbacks read synchronously, and shares its own part through Redis:
//
//   <prefix>:{<prefix>:<room>}:members:<node_id>  hash, client id -> name: this node's members.
//                                                 Written on every join, rename and leave; it
//                                                 expires TTL_MS after its last renewal.
//   <prefix>:{<prefix>:<room>}:nodes              set of the node_ids that keep such a hash.
//   <space>:{<space>:<room>}:members              channel: every change, as JSON, published in
//                                                 the same transaction as the hash write. <space>
//                                                 is <prefix>, or <prefix>.db<n> for a database
//                                                 n other than 0 (pub/sub ignores the database;
//                                                 the daemon names its channels the same way).
//
// An instance applies the other nodes' messages to the Map as they arrive. Every TICK_MS it renews
// its hash's expiry and reads the other nodes' hashes again: that repairs whatever a lost
// connection made it miss, and drops the members of a node that stopped renewing its hash (it
// crashed, or lost Redis) once the hash has expired and stayed missing for more than GONE_MS: a
// Redis that restarted empty has lost every hash until each node writes its own again, and the
// live nodes' members must not vanish meanwhile. (A member that leaves needs no wait: its node
// publishes the leave.) A crashed node's members are gone within CRASH_MS.
//
// A node writes its hash whole, and then says so ("reset", so the others read it at once): at
// start (a previous run's members are gone), after a write failed, after every reconnection (Redis
// may have restarted empty), and when it finds its hash missing (expired, or evicted): a join or
// rename checks that in the same transaction, so it never leaves a hash holding itself alone.
//
// Redis is only talked to in the background: a callback never waits for it. While Redis is
// unreachable the Map keeps what it last knew of the other nodes (this node's own members are
// always exact), and the log says why, once per reason rather than at every retry. A change made
// on another node shows in the Map a moment after that node's clients see it: both travel through
// Redis, on different connections.
//
// The keys share one hash tag, so in a Redis Cluster they live in one slot and one transaction
// may write them all. Changes use classic PUBLISH / SUBSCRIBE, which every Redis version and a
// Redis Cluster support. The room name is the caller's: another app using this module passes its
// own. The hash is keyed by node_id, which must be unique: the daemon keeps a second daemon with a
// name in use out of the cluster, but this module does not check. For the same reason a daemon
// runs one chat entry (app.ts): an app cannot learn its entry's name, so a second chat entry would
// use the same room and node_id, and the two would overwrite each other's members in one hash.
import type { Config, LogLevel } from '../../src/app/index.ts';

type Cluster = NonNullable<Config['cluster']>;

/** How often an instance renews its own hash and reads the other nodes' again. */
export const TICK_MS = 2000;
/** How long a node's hash lives after its last renewal. */
export const TTL_MS = 6000;
/**
 * How long another node's hash must stay missing before its members are dropped: longer than a
 * tick, plus a margin, so that after Redis restarted empty each live node has rewritten its own.
 */
export const GONE_MS = TICK_MS + 1000;
/**
 * A crashed node's members are gone from the other nodes' Maps within this (12 s): its hash
 * expires TTL_MS after its last renewal, the next tick finds it missing, and the first tick more
 * than GONE_MS after that (the second) drops them.
 */
export const CRASH_MS = TTL_MS + TICK_MS + 2 * TICK_MS;
/** Reconnection back-off: from 100 ms, doubling, at most 2 s. */
const backoff = (attempt: number) => Math.min(2000, 100 * 2 ** Math.min(attempt, 10));

export interface Room {
  /** Everyone in the room, client id -> name. Read it freely; change it through set and delete. */
  readonly names: ReadonlyMap<number, string>;
  /** A client of this node joined, or took a new name. */
  set(id: number, name: string): void;
  /** A client of this node left. */
  delete(id: number): void;
  /** Stops sharing: closes the Redis connections, if any. */
  close(): void;
}

/**
 * The room `name`: a Map of its own without `cluster`; shared through Redis with it. `log` writes
 * one line (the app passes rs.log, which works outside callbacks too).
 */
export function createRoom(name: string, cluster: Cluster | null, log: (level: LogLevel, message: string) => void = () => {}): Room {
  return cluster ? new SharedRoom(name, cluster, log) : new LocalRoom();
}

class LocalRoom implements Room {
  readonly names = new Map<number, string>();
  set(id: number, name: string): void {
    this.names.set(id, name);
  }
  delete(id: number): void {
    this.names.delete(id);
  }
  close(): void {}
}

/** A change as published: a member of `node` joined or renamed (set), left (del), or the node's hash was rewritten (reset). */
type Change =
  | { node: string; op: 'set'; id: number; name: string }
  | { node: string; op: 'del'; id: number }
  | { node: string; op: 'reset' };

// The few node-redis methods used here; a client and a cluster client both have them.
interface Multi {
  del(key: string): Multi;
  exists(key: string): Multi;
  hSet(key: string, fields: Record<string, string>): Multi;
  hDel(key: string, field: string): Multi;
  pExpire(key: string, ms: number): Multi;
  sAdd(key: string, member: string): Multi;
  publish(channel: string, message: string): Multi;
  exec(): Promise<unknown[]>;
}
interface Redis {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: 'error' | 'node-error', fn: (err: Error) => void): unknown;
  on(event: 'ready' | 'node-ready', fn: () => void): unknown;
  info(section: string): Promise<string>;
  duplicate(): Redis;
  multi(): Multi;
  hGetAll(key: string): Promise<Record<string, string>>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, member: string): Promise<number>;
  subscribe(channel: string, fn: (message: string) => void): Promise<void>;
}

const isId = (id: unknown): id is number => typeof id === 'number' && Number.isSafeInteger(id) && id > 0;

class SharedRoom implements Room {
  readonly names = new Map<number, string>();
  /** This node's members: what its hash holds. */
  readonly #mine = new Map<number, string>();
  /** The other nodes' members, by node_id: which entries of `names` each put there (never an empty set). */
  readonly #theirs = new Map<string, Set<number>>();
  /** When a read first found the hash of a node in #theirs missing: it is dropped GONE_MS later. */
  readonly #missing = new Map<string, number>();
  /**
   * The number of the last message heard from each node (counted over all nodes): a hash read
   * while one came in may be older than the Map, and is not applied. Only reads in flight need
   * it, so it is emptied each time the last of them ends.
   */
  readonly #heard = new Map<string, number>();
  #messages = 0;
  #reads = 0;
  readonly #me: string;
  readonly #url: string;
  readonly #key: string;
  readonly #nodesKey: string;
  readonly #channel: string;
  readonly #keyOf: (node: string) => string;
  readonly #log: (level: LogLevel, message: string) => void;
  /** The command connection (for a Redis Cluster, the cluster client, which subscribes too). */
  #redis: Redis | null = null;
  #sub: Redis | null = null;
  /** The hash must be written whole: at start, after a write failed, after a reconnection, and when it was found missing. */
  #dirty = true;
  /** The last connection error logged, until a connection is ready again: each reason is said once, not at every retry. */
  #lastError: string | null = null;
  #warned = false;
  /** A stray message on the channel was reported (#stray). */
  #strayed = false;
  #ticking = false;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;

  constructor(room: string, cluster: Cluster, log: (level: LogLevel, message: string) => void) {
    const base = `${cluster.key_prefix}:{${cluster.key_prefix}:${room}}`;
    const db = Number(new URL(cluster.redis_url).pathname.slice(1) || 0);
    const space = db === 0 ? cluster.key_prefix : `${cluster.key_prefix}.db${db}`;
    this.#me = cluster.node_id;
    this.#url = cluster.redis_url;
    this.#keyOf = (node) => `${base}:members:${node}`;
    this.#key = this.#keyOf(this.#me);
    this.#nodesKey = `${base}:nodes`;
    this.#channel = `${space}:{${space}:${room}}:members`;
    this.#log = log;
    void this.#connect(0);
  }

  set(id: number, name: string): void {
    this.names.set(id, name);
    this.#mine.set(id, name);
    const others = this.#mine.size - 1;
    this.#write((m) => m.hSet(this.#key, { [id]: name }).pExpire(this.#key, TTL_MS), { node: this.#me, op: 'set', id, name }, others);
  }

  delete(id: number): void {
    this.names.delete(id);
    this.#mine.delete(id);
    this.#write((m) => m.hDel(this.#key, String(id)), { node: this.#me, op: 'del', id }, this.#mine.size);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#retry) clearTimeout(this.#retry);
    this.#drop();
  }

  /**
   * Writes one change and publishes it, in one transaction; or leaves it to the next tick's
   * rewrite. `others`: how many other members of this node the hash should hold already. If the
   * hash was missing, it now holds this change alone: it is written whole at once.
   */
  #write(build: (m: Multi) => Multi, change: Change, others: number): void {
    const r = this.#redis;
    if (this.#dirty || !r?.isReady) {
      this.#dirty = true;
      return;
    }
    build(r.multi().exists(this.#key)).publish(this.#channel, JSON.stringify(change)).exec().then(([existed]) => {
      if (existed === 0 && others > 0) {
        this.#dirty = true;
        void this.#tick(); // or the next one, if one is running
      }
    }, (err: unknown) => this.#failed(err));
  }

  /** Connects (a command and a subscriber connection, or one cluster client), retrying until it is closed. */
  async #connect(attempt: number): Promise<void> {
    const { createClient, createCluster } = await import('@redis/client');
    if (this.#closed) return;
    const socket = { connectTimeout: 2000, reconnectStrategy: backoff };
    try {
      const r = createClient({ url: this.#url, disableOfflineQueue: true, socket }) as unknown as Redis;
      this.#redis = r;
      // node-redis reconnects by itself (and connect() retries until Redis answers): the log says
      // why it cannot, and failed commands are handled where they are sent.
      r.on('error', (err) => this.#unreachable(err));
      r.on('ready', () => this.#ready(r));
      await r.connect(); // retries (backoff) until Redis answers, or until close() destroys it
      if (/cluster_enabled:1/.test(await r.info('cluster'))) {
        // A Redis Cluster: its client routes each command to the slot's node and subscribes too.
        r.destroy();
        const u = new URL(this.#url);
        const c = createCluster({
          rootNodes: [{ url: this.#url }],
          defaults: {
            disableOfflineQueue: true,
            username: u.username ? decodeURIComponent(u.username) : undefined,
            password: u.password ? decodeURIComponent(u.password) : undefined,
            socket: { ...socket, tls: u.protocol === 'rediss:' },
          },
        } as never) as unknown as Redis;
        this.#redis = this.#sub = c;
        // A cluster client has no ready of its own: its nodes' connections do.
        for (const event of ['error', 'node-error'] as const) c.on(event, (err) => this.#unreachable(err));
        c.on('node-ready', () => this.#ready(c));
        await c.connect();
      } else {
        this.#sub = r.duplicate();
        this.#sub.on('error', (err) => this.#unreachable(err));
        await this.#sub.connect();
      }
      // node-redis subscribes again by itself after a reconnect; what was missed meanwhile, the next tick reads.
      await this.#sub.subscribe(this.#channel, (m) => this.#receive(m));
      if (this.#closed) return;
      this.#log('info', `sharing the member list of the room through Redis as node "${this.#me}"`);
      await this.#tick();
      if (this.#closed) return; // closed during that first tick
      this.#timer = setInterval(() => void this.#tick(), TICK_MS);
      this.#timer.unref?.();
    } catch (err) {
      this.#drop();
      if (this.#closed) return;
      if (attempt === 0) this.#log('warning', `the member list is not shared until Redis answers (${(err as Error).message}); retrying`);
      this.#retry = setTimeout(() => void this.#connect(attempt + 1), backoff(attempt));
    }
  }

  /** A connection failed, or cannot connect: says why, once per reason until one is ready again. */
  #unreachable(err: Error): void {
    // Connecting to both addresses of a name (localhost) fails with an empty message, and a code.
    const why = err.message || (err as { code?: string }).code || err.name;
    if (why === this.#lastError || this.#closed) return;
    this.#lastError = why;
    this.#log('warning', `member list: Redis: ${why}; retrying`);
  }

  /**
   * The command connection (or one of a cluster's) is ready. After the first time it is back from an
   * outage, and Redis may have restarted empty: the hash is written whole at once.
   */
  #ready(r: Redis): void {
    if (this.#lastError !== null) this.#log('info', 'member list: Redis answers');
    this.#lastError = null;
    if (this.#redis !== r || this.#timer === null) return; // the first connection: #connect writes the hash
    this.#dirty = true;
    void this.#tick();
  }

  #drop(): void {
    for (const c of new Set([this.#redis, this.#sub])) {
      try { c?.destroy(); } catch { /* already closed */ }
    }
    this.#redis = this.#sub = null;
  }

  /** Renews (or rewrites) this node's hash, then reads the other nodes' hashes again. */
  async #tick(): Promise<void> {
    const r = this.#redis;
    if (!r?.isReady || this.#ticking) return;
    this.#ticking = true;
    try {
      if (!this.#dirty) {
        const [renewed] = await r.multi().pExpire(this.#key, TTL_MS).sAdd(this.#nodesKey, this.#me).exec();
        // Expired while we were away (the others dropped our members): write it whole again.
        if (renewed === 0 && this.#mine.size > 0) this.#dirty = true;
      }
      if (this.#dirty) await this.#rewrite(r);
      const nodes = new Set([...await r.sMembers(this.#nodesKey), ...this.#theirs.keys()]);
      nodes.delete(this.#me);
      await this.#read(r, [...nodes]);
      this.#warned = false;
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#ticking = false;
    }
  }

  /** Writes this node's hash whole and says so: the others read it again at once. */
  async #rewrite(r: Redis): Promise<void> {
    this.#dirty = false;
    const m = r.multi().del(this.#key);
    if (this.#mine.size > 0) {
      m.hSet(this.#key, Object.fromEntries([...this.#mine].map(([id, name]) => [String(id), name]))).pExpire(this.#key, TTL_MS);
    }
    const reset: Change = { node: this.#me, op: 'reset' };
    await m.sAdd(this.#nodesKey, this.#me).publish(this.#channel, JSON.stringify(reset)).exec();
  }

  /**
   * Reads these nodes' hashes and makes each the Map's view of that node, unless a message from it
   * came in meanwhile. A missing hash drops the node's members once it has been missing for more
   * than GONE_MS, or at once after the node said it rewrote its hash (`reset`).
   */
  async #read(r: Redis, nodes: string[], reset = false): Promise<void> {
    const since = this.#messages;
    this.#reads++;
    try {
      const hashes = await Promise.all(nodes.map((n) => r.hGetAll(this.#keyOf(n))));
      const now = Date.now();
      nodes.forEach((node, i) => {
        if ((this.#heard.get(node) ?? 0) > since) return; // the next tick reads it again
        if (Object.keys(hashes[i]).length > 0) {
          this.#missing.delete(node);
          this.#replace(node, hashes[i]);
          return;
        }
        // No hash: a node without members, one whose hash expired (it crashed, or lost Redis), or
        // one that has not written its hash again since Redis restarted empty.
        const first = this.#missing.get(node) ?? now;
        if (reset || !this.#theirs.has(node) || now - first > GONE_MS) {
          this.#replace(node, {});
          // A live node adds itself again at its next tick.
          r.sRem(this.#nodesKey, node).catch(() => {});
        } else {
          this.#missing.set(node, first);
        }
      });
    } finally {
      if (--this.#reads === 0) this.#heard.clear();
    }
  }

  /** Makes `hash` (id -> name) the members of `node` in the Map. */
  #replace(node: string, hash: Record<string, string>): void {
    const before = this.#theirs.get(node);
    const now = new Set<number>();
    for (const [field, name] of Object.entries(hash)) {
      const id = Number(field);
      if (!isId(id) || this.#mine.has(id)) continue;
      now.add(id);
      this.names.set(id, name);
    }
    if (before) for (const id of before) if (!now.has(id)) this.names.delete(id);
    if (now.size > 0) {
      this.#theirs.set(node, now);
    } else {
      this.#theirs.delete(node);
      this.#missing.delete(node);
    }
  }

  /** A change another node published. Anyone with access to Redis can publish: nothing is trusted. */
  /**
   * Something else publishes on the room's channel: said once (whoever can publish must not fill the
   * log), and ignored.
   */
  #stray(message: string): void {
    if (this.#strayed) return;
    this.#strayed = true;
    this.#log('warning', `member list: ignored a message on ${this.#channel} that is not a member change (${JSON.stringify(message.slice(0, 60))}); further ones are ignored silently`);
  }

  #receive(message: string): void {
    let c: { node?: unknown; op?: unknown; id?: unknown; name?: unknown } | null = null;
    try {
      c = JSON.parse(message);
    } catch {
      // Not JSON: said below, with any other message that is not a member change.
    }
    if (typeof c !== 'object' || c === null || typeof c.node !== 'string') {
      this.#stray(message);
      return;
    }
    if (c.node === this.#me) return;
    const node = c.node;
    this.#heard.set(node, ++this.#messages);
    if (c.op === 'reset') {
      const r = this.#redis;
      if (r?.isReady) this.#read(r, [node], true).catch((err: unknown) => this.#failed(err));
      return;
    }
    if (!isId(c.id) || this.#mine.has(c.id)) return;
    let ids = this.#theirs.get(node);
    if (c.op === 'set' && typeof c.name === 'string') {
      this.names.set(c.id, c.name);
      if (!ids) this.#theirs.set(node, (ids = new Set()));
      ids.add(c.id);
    } else if (c.op === 'del' && ids?.delete(c.id)) {
      this.names.delete(c.id);
      if (ids.size === 0) this.#replace(node, {});
    }
  }

  /** A command failed: the hash is written whole at the next tick. Said once until a tick succeeds. */
  #failed(err: unknown): void {
    this.#dirty = true;
    if (this.#warned || this.#closed) return;
    this.#warned = true;
    const why = err instanceof Error ? err.message : String(err);
    this.#log('warning', `member list: a Redis command failed (${why}); this node's members are written again at the next tick`);
  }
}
