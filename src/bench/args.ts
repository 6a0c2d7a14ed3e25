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
  target: BenchTarget;
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
  /** Server process to read CPU time and memory of (/proc). */
  pid: number | null;
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

export const HELP = `Usage: ringsocket-bench <echo|broadcast|connect> <ws-url> [options]

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
                        (/proc/PID/status VmRSS), and messages per server CPU-second
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

Example:
  ringsocket-bench echo ws://127.0.0.1:8080/echo -c 1000 -p 4 -s 32 --binary --pid 1234
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
        pid: { type: 'string' },
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
  if (pos.length > 2) return { kind: 'error', message: `unexpected argument "${pos[2]}"` };
  const target = parseTarget(pos[1]);
  if (typeof target === 'string') return { kind: 'error', message: target };

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
  const threads = intOption('--threads', v.threads, 1, 1, 256);
  if (typeof threads === 'string') return { kind: 'error', message: threads };
  let pid: number | null = null;
  if (v.pid !== undefined) {
    const p = intOption('--pid', v.pid, 0, 1, 2 ** 31 - 1);
    if (typeof p === 'string') return { kind: 'error', message: p };
    pid = p;
  }
  return {
    kind: 'run',
    options: {
      mode, target, connections, inFlight, size, duration, binary, rate, senders,
      threads: Math.min(threads, connections), pid, json: v.json === true, deflate: v.deflate === true,
    },
  };
}
