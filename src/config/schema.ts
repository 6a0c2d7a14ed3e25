// Every configuration key: which object it belongs to, its default and its range. README.md ("Configuration")
// describes the same table for users; test/config.test.ts checks that every key here is documented.
import { FrameSize } from '../core/codes.ts';
import { RING_MAX_CAPACITY, RING_RECORD_HEADER } from '../core/ring.ts';
import { MAX_RECORD_OVERHEAD } from '../daemon/records.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** A WebAssembly (wasm32) memory holds at most 65536 pages of 64 KiB. */
export const WASM_MEMORY_MAX_BYTES = 4 * GiB;

/** The longest frame header: 2 bytes + 8-byte extended length + 4-byte masking key (14). */
export const MAX_FRAME_HEADER_SIZE = FrameSize.FRAME_HEADER_MAX;

/**
 * Ring bytes a message needs beyond its payload: the largest record overhead (src/daemon/records.ts
 * MAX_RECORD_OVERHEAD: 20-byte outbound header + 8-byte client id + 14-byte frame header) and the
 * ring's own size word before each record (4), so 46. A ring takes records of up to half its
 * capacity less that size word (ringMaxRecord), so a ring of at least
 * 2 × (max_ws_msg_size + RING_RECORD_OVERHEAD) bytes takes every record of a maximum-size message
 * (test/ring-records.test.ts).
 */
export const RING_RECORD_OVERHEAD = MAX_RECORD_OVERHEAD + RING_RECORD_HEADER;

/**
 * The largest max_ws_msg_size: a ring holds records of up to half its capacity, and a ring is at
 * most RING_MAX_CAPACITY (1 GiB), so 512 MiB − RING_RECORD_OVERHEAD.
 */
export const MAX_WS_MSG_SIZE_LIMIT = RING_MAX_CAPACITY / 2 - RING_RECORD_OVERHEAD;

export const GLOBAL_KEYS = [
  'log_format', 'user', 'group',
  'log_level', 'worker_c', 'fd_alloc_c', 'max_ws_msg_size', 'max_ws_frame_chain_size',
  'max_ws_fragment_c', 'max_http_head_size', 'max_client_outbound_size', 'max_worker_outbound_size', 'max_worker_inbound_size', 'worker_rbuf_size',
  'inbound_ring_buf_size', 'outbound_ring_buf_size', 'realloc_multiplier', 'owrefs_elem_c',
  'epoll_buf_elem_c', 'update_queue_size', 'shutdown_wait_http', 'shutdown_wait_ws',
  'idle_timeout', 'ping_interval', 'app_stall_timeout', 'ws_msg_timeout', 'ports', 'certs', 'apps',
  'permessage_deflate', 'upgrade_timeout', 'metrics', 'cluster',
] as const;

export const PORT_KEYS = [
  'port_number', 'is_unencrypted', 'ip_addrs', 'interface', 'ipv4only', 'ipv6only',
  'ipv4_is_embedded_in_ipv6',
] as const;

export const CERT_KEYS = ['hostnames', 'privkey_path', 'pubchain_path'] as const;

export const APP_KEYS = [
  'name', 'app_path', 'endpoints', 'wbuf_size', 'no_open_cb', 'no_close_cb', 'update_queue_size',
] as const;

export const ENDPOINT_KEYS = ['endpoint_id', 'url', 'allowed_origins', 'permessage_deflate', 'subprotocols'] as const;

/** A numeric key: integer or number, its inclusive range, and its default (if it is constant). */
export interface NumberSpec {
  integer: boolean;
  min: number;
  max: number;
  /** Values strictly between 0 and min are refused, but 0 itself is allowed (0 = off). */
  zeroMeansOff?: boolean;
  unit?: 'bytes' | 'seconds';
  default?: number;
}

/**
 * Global numeric keys whose default and range do not depend on other keys. Keys with derived
 * defaults or bounds (max_ws_frame_chain_size, max_client_outbound_size, the ring sizes) are
 * resolved in validate.ts.
 */
export const GLOBAL_NUMBERS = {
  worker_c: { integer: true, min: 0, max: 255, default: 0 },
  fd_alloc_c: { integer: true, min: 1, max: 1_048_576, default: 10_000 },
  max_ws_msg_size: { integer: true, min: 125, max: MAX_WS_MSG_SIZE_LIMIT, unit: 'bytes', default: 16 * MiB },
  max_ws_fragment_c: { integer: true, min: 1, max: 2 ** 31 - 1, default: 131_072 },
  max_http_head_size: { integer: true, min: 256, max: 64 * KiB, unit: 'bytes', default: 8 * KiB },
  worker_rbuf_size: { integer: true, min: 64 * KiB, max: 1 * GiB, unit: 'bytes', default: 1 * MiB },
  max_worker_outbound_size: { integer: true, min: 1 * MiB, max: 64 * GiB, zeroMeansOff: true, unit: 'bytes', default: 512 * MiB },
  realloc_multiplier: { integer: false, min: 1.05, max: 2.5, default: 1.5 },
  owrefs_elem_c: { integer: true, min: 1000, max: 2 ** 32 - 1, default: 10_000 },
  epoll_buf_elem_c: { integer: true, min: 10, max: 65535, default: 100 },
  update_queue_size: { integer: true, min: 1, max: 255, default: 5 },
  shutdown_wait_http: { integer: false, min: 0.001, max: 3600, unit: 'seconds', default: 15 },
  shutdown_wait_ws: { integer: false, min: 0.001, max: 3600, unit: 'seconds', default: 30 },
  idle_timeout: { integer: false, min: 0.001, max: 86400, zeroMeansOff: true, unit: 'seconds', default: 120 },
  ping_interval: { integer: false, min: 0.001, max: 86400, zeroMeansOff: true, unit: 'seconds', default: 30 },
  app_stall_timeout: { integer: false, min: 0.001, max: 86400, zeroMeansOff: true, unit: 'seconds', default: 30 },
  /** 16 MiB (the default max_ws_msg_size) still arrives in time at 56 KB/s, a slow mobile uplink. */
  ws_msg_timeout: { integer: false, min: 0.001, max: 86400, zeroMeansOff: true, unit: 'seconds', default: 300 },
  /** How long a handshake may wait for the app's upgrade hook; it bounds the pending handshakes. */
  upgrade_timeout: { integer: false, min: 0.001, max: 3600, unit: 'seconds', default: 5 },
} as const satisfies Record<string, NumberSpec>;

/** max_ws_frame_chain_size: at least max_ws_msg_size; default floor(1.25 × max_ws_msg_size). */
export const FRAME_CHAIN = { integer: true, max: 2 ** 31 - 1, factor: 1.25 } as const;

export const MAX_CLIENT_OUTBOUND = { integer: true, max: 64 * GiB, default: 16 * MiB } as const;

/**
 * max_worker_inbound_size: at least max_ws_msg_size + 4096 (a largest message must fit); default the
 * larger of 128 MiB and 2 × max_ws_msg_size.
 */
export const MAX_WORKER_INBOUND = { integer: true, max: 64 * GiB, default: 128 * MiB } as const;

/**
 * Ring sizes: at least 2 × (max_ws_msg_size + RING_RECORD_OVERHEAD); default 2 × max_ws_msg_size
 * + 1 MiB; at most 1 GiB. The daemon rounds them up to a power of two.
 */
export const RING = { integer: true, max: RING_MAX_CAPACITY, extra: 1 * MiB } as const;

export const APP_NUMBERS = {
  wbuf_size: { integer: true, min: 64, unit: 'bytes', default: 1 * MiB },
} as const;

export const ENDPOINT_ID = { integer: true, min: 0, max: 65535 } as const;

/** Upper bounds on list lengths and string sizes. */
export const MAX_APPS = 255;
export const MAX_APP_NAME_BYTES = 32;
/** Linux IFNAMSIZ − 1. */
export const MAX_INTERFACE_NAME = 15;

/** Keys accepted for compatibility with the original that change nothing here, and why. */
export const NO_EFFECT: Record<string, string> = {
  realloc_multiplier: 'buffers never grow: rings have a fixed capacity and use back-pressure',
  owrefs_elem_c: 'outbound messages are not tracked with write references: every client has its own bounded queue',
  epoll_buf_elem_c: 'libuv runs the event loop; there is no epoll event buffer to size',
  update_queue_size: 'rings publish with sequentially consistent atomics; there is no delay queue',
  no_open_cb: 'workers always report new connections (one small ring record); sending works without an open callback',
  no_close_cb: 'workers always report closed connections, so the app runtime keeps its per-client state right',
};
