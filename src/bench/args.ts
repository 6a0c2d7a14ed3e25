// Command-line parsing for ringsocket-bench. Pure: argv in, options or a message out.
import { parseArgs } from 'node:util';

export const MODES = ['echo', 'broadcast', 'connect'] as const;
export type Mode = (typeof MODES)[number];

export interface BenchTarget {
  /** The URL as given. */
  url: string;
  host: string;
  port: number;
  /** Request target: path plus query, at least "/". */
  path: string;
  /** The Host header value. */
  hostHeader: string;
}

export interface BenchOptions {
  mode: Mode;
  /**
   * The server URLs, at least one. Connections are spread over them (connectionTarget): several
   * URLs are several servers (nodes of a cluster) sharing one run.
   */
  targets: BenchTarget[];
  /** Connections (echo), clients (broadcast) or idle connections (connect). */
  connections: number;
  /** Messages in flight per connection (echo), outstanding window per sender (broadcast), concurrent handshakes (connect). */
  inFlight: number;
  /** Payload size in bytes. */
  size: number;
  /** Measurement duration in seconds (connect: the handshake phase). */
  duration: number;
  binary: boolean;
  /** Broadcast only: messages per second over all senders (fixed rate) instead of a closed loop. */
  rate: number | null;
  /** Broadcast only: how many of the clients send. */
  senders: number;
  threads: number;
  /** Server processes to read CPU time and memory of (/proc); empty: none. */
  pids: number[];
  json: boolean;
  /** Offer permessage-deflate, compress what is sent and inflate what comes compressed. */
  deflate: boolean;
}

export type ParseResult =
  | { kind: 'help'; text: string }
  | { kind: 'run'; options: BenchOptions }
  | { kind: 'error'; message: string };

/** The smallest payload that holds the header that makes every message verifiable. */
export function minPayloadSize(mode: Mode, binary: boolean): number {
  if (mode === 'connect') return 0;
  const fields = mode === 'echo' ? 2 : 3; // echo: stream, seq; broadcast: sender, seq, timestamp
  return fields * (binary ? 4 : 8);
}

export const MAX_PAYLOAD = 64 * 1024 * 1024;

/**
 * Which URL (index into `targets`) connection `i` of a run uses. One URL: 0. Echo and connect: the
 * connections are dealt round-robin (i mod U). Broadcast: the senders (connections 0 .. M-1) all
 * use the first URL, so that with several nodes every message enters the cluster at one node and
 * reaches the others' clients only through the cross-node path; the other clients are dealt so
 * that every URL ends with as many clients as the first has (first the other URLs are filled up to
 * the M senders of the first, then all URLs round-robin), at most one apart when M <= N / U.
 */
export function connectionTarget(i: number, o: Pick<BenchOptions, 'mode' | 'senders' | 'targets'>): number {
  const U = o.targets.length;
  if (U === 1) return 0;
  if (o.mode !== 'broadcast') return i % U;
  const M = o.senders;
  if (i < M) return 0;
  const j = i - M;
  const fill = M * (U - 1);
  return j < fill ? 1 + (j % (U - 1)) : (j - fill) % U;
}

/** How many of the first `connections` connections use each URL, and how many of them send (broadcast). */
export function connectionsPerTarget(o: Pick<BenchOptions, 'mode' | 'senders' | 'targets' | 'connections'>): { connections: number; senders: number }[] {
  const per = o.targets.map(() => ({ connections: 0, senders: 0 }));
  for (let i = 0; i < o.connections; i++) {
    const k = per[connectionTarget(i, o)];
    k.connections++;
    if (o.mode === 'broadcast' && i < o.senders) k.senders++;
  }
  return per;
}

export const HELP = `Usage: ringsocket-bench <echo|broadcast|connect> <ws-url>... [options]

Load generator for WebSocket servers. Connections are raw TCP sockets driven from worker threads;
all client framing (masking, parsing) is done by RingSocket's WebAssembly codec. Every received
payload is verified (sequence number and byte pattern); mismatches, protocol errors, unexpected
closes, failed connects and messages lost at the end make the exit status 1.

Modes:
  echo        N connections each keep P messages in flight to an echo server; a message counts
              when its echo comes back. Latency is send-to-echo.
  broadcast   N clients connect to a server that sends every message to every client (sender
              included); S of them send. A message counts when every client has it; latency is
              taken from a timestamp in the payload, at each delivery.
  connect     Handshakes per second and idle connections: N idle connections are opened (P at
              a time) and held while the server's memory is read (--pid), giving bytes of server
              memory per idle connection; they are closed, then new connections are opened and
              closed cleanly for -d seconds (P at a time) to count handshakes per second. (The
              idle phase comes first so that its baseline is the server at rest.)

Several URLs: the connections are spread over them (several servers, e.g. the nodes of a cluster
sharing one app). echo and connect deal them round-robin. broadcast puts every sender on the first
URL and deals the other clients so that every URL has about as many clients (the senders count
for the first): every message then enters at the first server and reaches the others' clients
through the servers' own cross-node path, and a message counts as complete only once every client
on every URL has it. The table then shows connections, messages and latency per URL.

Options:
  -c, --connections N   connections (echo, broadcast: clients; connect: idle connections)
                        [default: 100; connect: 1000]
  -p, --in-flight P     echo: messages in flight per connection; broadcast: outstanding messages
                        per sender (closed loop window); connect: concurrent handshakes
                        [default: 1; connect: 16]
  -s, --size BYTES      payload size [default: 32]; at least 16 (echo text), 8 (echo binary),
                        24 (broadcast text), 12 (broadcast binary)
  -d, --duration SEC    measurement time in seconds, fractions allowed [default: 10]
      --binary          send binary messages [default: text]
      --rate R          broadcast: send R messages per second in total (fixed rate) instead of a
                        closed loop
      --senders M       broadcast: how many clients send [default: 1]
      --threads T       client worker threads [default: 1]
      --pid PID         server process id: report its CPU time (/proc/PID/stat) and memory
                        (/proc/PID/status VmRSS), and messages per server CPU-second. Several
                        processes (one per server, a broker): repeat --pid or list them with
                        commas; each is reported, and their sum is the server CPU
      --json            print one JSON object on stdout instead of the table
      --deflate         offer permessage-deflate ("permessage-deflate; client_max_window_bits");
                        the server must accept it. Every message sent is compressed, every
                        compressed message received inflated (node:zlib, on the thread pool), as
                        the server's answer says (context takeover, window bits); text payloads
                        are then JSON-like text after the header, to compress like real traffic
  -h, --help            show this text

On a terminal a live line is printed every second (connections, msgs/s, MB/s, errors). The table
shows the client's own CPU use: if it is near 1 core per thread, the client is the bottleneck.
Only ws:// URLs are supported (no TLS).

Examples:
  ringsocket-bench echo ws://127.0.0.1:8080/echo -c 1000 -p 4 -s 32 --binary --pid 1234
  ringsocket-bench broadcast ws://127.0.0.1:8081/broadcast ws://127.0.0.1:8082/broadcast \\
    -c 1000 --senders 10 -p 2 -s 64 --binary --pid 1111,2222
`;

function parseTarget(raw: string): BenchTarget | string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `invalid URL: ${raw}`;
  }
  if (u.protocol === 'wss:') return `wss:// is not supported (no TLS): ${raw}`;
  if (u.protocol !== 'ws:') return `the URL must start with ws://: ${raw}`;
  if (u.username || u.password) return `the URL must not carry credentials: ${raw}`;
  const port = u.port ? Number(u.port) : 80;
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { url: raw, host, port, path: (u.pathname || '/') + u.search, hostHeader: u.host };
}

function intOption(name: string, raw: string | undefined, def: number, min: number, max: number): number | string {
  if (raw === undefined) return def;
  if (!/^[0-9]+$/.test(raw)) return `${name} must be a whole number, got "${raw}"`;
  const n = Number(raw);
  if (n < min || n > max) return `${name} must be between ${min} and ${max}, got ${n}`;
  return n;
}

export function parseBenchArgs(argv: readonly string[]): ParseResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        connections: { type: 'string', short: 'c' },
        'in-flight': { type: 'string', short: 'p' },
        size: { type: 'string', short: 's' },
        duration: { type: 'string', short: 'd' },
        binary: { type: 'boolean' },
        rate: { type: 'string' },
        senders: { type: 'string' },
        threads: { type: 'string' },
        pid: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        deflate: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help', text: HELP };
  const pos = parsed.positionals;
  if (pos.length === 0) return { kind: 'error', message: 'missing mode: echo, broadcast or connect' };
  const mode = pos[0] as Mode;
  if (!MODES.includes(mode)) return { kind: 'error', message: `unknown mode "${pos[0]}": use echo, broadcast or connect` };
  if (pos.length < 2) return { kind: 'error', message: 'missing ws:// URL' };
  const targets: BenchTarget[] = [];
  for (const raw of pos.slice(1)) {
    const target = parseTarget(raw);
    if (typeof target === 'string') return { kind: 'error', message: target };
    if (targets.some((t) => t.url === raw)) return { kind: 'error', message: `the URL ${raw} is given twice` };
    targets.push(target);
  }

  const connections = intOption('--connections', v.connections, mode === 'connect' ? 1000 : 100, 1, 1_000_000);
  if (typeof connections === 'string') return { kind: 'error', message: connections };
  const inFlight = intOption('--in-flight', v['in-flight'], mode === 'connect' ? 16 : 1, 1, 65536);
  if (typeof inFlight === 'string') return { kind: 'error', message: inFlight };
  const size = intOption('--size', v.size, 32, 0, MAX_PAYLOAD);
  if (typeof size === 'string') return { kind: 'error', message: size };
  const binary = v.binary === true;
  const min = minPayloadSize(mode, binary);
  if (size < min) {
    return { kind: 'error', message: `--size must be at least ${min} for ${mode} ${binary ? 'binary' : 'text'} (room for the verification header), got ${size}` };
  }
  let duration = 10;
  if (v.duration !== undefined) {
    duration = Number(v.duration);
    if (!/^[0-9]*\.?[0-9]+$/.test(v.duration) || !(duration > 0) || duration > 86400) {
      return { kind: 'error', message: `--duration must be a number of seconds above 0 (at most 86400), got "${v.duration}"` };
    }
  }
  let rate: number | null = null;
  if (v.rate !== undefined) {
    if (mode !== 'broadcast') return { kind: 'error', message: '--rate applies to broadcast only' };
    const r = intOption('--rate', v.rate, 0, 1, 100_000_000);
    if (typeof r === 'string') return { kind: 'error', message: r };
    rate = r;
  }
  if (v.senders !== undefined && mode !== 'broadcast') return { kind: 'error', message: '--senders applies to broadcast only' };
  const senders = intOption('--senders', v.senders, 1, 1, 1_000_000);
  if (typeof senders === 'string') return { kind: 'error', message: senders };
  if (mode === 'broadcast' && senders > connections) {
    return { kind: 'error', message: `--senders (${senders}) cannot exceed --connections (${connections})` };
  }
  if (targets.length > 1) {
    // Every URL gets at least one connection.
    const least = mode === 'broadcast' ? senders + targets.length - 1 : targets.length;
    if (connections < least) {
      return {
        kind: 'error',
        message: mode === 'broadcast'
          ? `${targets.length} URLs with ${senders} sender(s) on the first need --connections of at least ${least}, got ${connections}`
          : `${targets.length} URLs need --connections of at least ${least}, got ${connections}`,
      };
    }
  }
  const threads = intOption('--threads', v.threads, 1, 1, 256);
  if (typeof threads === 'string') return { kind: 'error', message: threads };
  const pids: number[] = [];
  for (const raw of (v.pid ?? []).flatMap((p) => p.split(','))) {
    const p = intOption('--pid', raw.trim(), 0, 1, 2 ** 31 - 1);
    if (typeof p === 'string') return { kind: 'error', message: p };
    if (pids.includes(p)) return { kind: 'error', message: `--pid ${p} is given twice` };
    pids.push(p);
  }
  return {
    kind: 'run',
    options: {
      mode, targets, connections, inFlight, size, duration, binary, rate, senders,
      threads: Math.min(threads, connections), pids, json: v.json === true, deflate: v.deflate === true,
    },
  };
}
