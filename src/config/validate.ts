// Walks the parsed JSON tree, applies defaults and checks every rule: the order of the checks and
// the rules between sections. Each section has its own module (globals, ports, certs, apps, the
// memory budget); every problem becomes a ConfigError with its JSONPath, what was found and what is
// allowed, and checking goes on after an error so that one run reports everything. Checks that
// depend on an invalid value are skipped (they would only repeat the first error).
import type { Node } from 'jsonc-parser';
import { readApps } from './apps.ts';
import { fitWorkers } from './budget.ts';
import { readCerts } from './certs.ts';
import { readGlobalDeflate } from './deflate.ts';
import type { Collector } from './collector.ts';
import type { ConfigEnv } from './env.ts';
import { checkTimers, readGlobalNumbers, readLogLevel, readMessageSizes, type GlobalNumberKey } from './globals.ts';
import { readOps } from './ops.ts';
import { readMetrics } from './metrics.ts';
import { readCluster } from './cluster.ts';
import { readPorts } from './ports.ts';
import { readObject } from './readers.ts';
import { GLOBAL_KEYS, GLOBAL_NUMBERS } from './schema.ts';
import type { AppConfig, Config, PortConfig } from './types.ts';

export function validateTree(c: Collector, root: Node, baseDir: string, configPath: string, env: ConfigEnv): Config | undefined {
  const g = readObject(c, root, '$', GLOBAL_KEYS, 'the configuration');
  if (!g) return undefined;

  const logLevel = readLogLevel(c, g);
  const ops = readOps(c, g);
  const num = readGlobalNumbers(c, g);
  const maxMsg = num.max_ws_msg_size;
  const sizes = readMessageSizes(c, g, maxMsg);
  checkTimers(c, g, num);

  const ports = readPorts(c, g, root, env);
  const certs = readCerts(c, g, baseDir, env.keptFiles);
  const deflate = readGlobalDeflate(c, g);
  const metrics = readMetrics(c, g, ports.numbers);
  const cluster = readCluster(c, g);
  const apps = readApps(c, g, root, baseDir,
    { ports: ports.byNumber, portNumbers: ports.numbers, certs: certs.ok ? certs.certs : null, urls: new Map(), deflate: deflate ?? false },
    { maxMsg, updateQueueSize: num.update_queue_size ?? GLOBAL_NUMBERS.update_queue_size.default });

  if (c.errors.length > 0 || !apps.ok || !ports.ok || !certs.ok || logLevel === null || deflate === null) return undefined;

  if (ops.user === undefined || ops.group === undefined || ops.log_format === undefined || metrics === undefined || cluster === undefined) return undefined;
  warnUnusedPorts(c, ports.ports, apps.apps);

  // Without errors, every value is known.
  const v = num as Record<GlobalNumberKey, number>;
  const inboundRing = sizes.inboundRing!, outboundRing = sizes.outboundRing!;
  const workers = fitWorkers(c, env, { num: v, inboundRing, outboundRing, apps: apps.apps });
  if (workers === undefined) return undefined;

  return {
    configPath,
    log_level: logLevel,
    log_format: ops.log_format,
    user: ops.user,
    group: ops.group,
    worker_c: workers,
    workerCAuto: v.worker_c === 0,
    fd_alloc_c: v.fd_alloc_c,
    slotsPerWorker: Math.ceil(v.fd_alloc_c / workers),
    max_ws_msg_size: v.max_ws_msg_size,
    max_ws_frame_chain_size: sizes.frameChain!,
    max_ws_fragment_c: v.max_ws_fragment_c,
    max_http_head_size: v.max_http_head_size,
    max_client_outbound_size: sizes.outboundLimit!,
    max_worker_outbound_size: v.max_worker_outbound_size,
    max_worker_inbound_size: sizes.inboundBudget!,
    worker_rbuf_size: v.worker_rbuf_size,
    inbound_ring_buf_size: inboundRing,
    outbound_ring_buf_size: outboundRing,
    realloc_multiplier: v.realloc_multiplier,
    owrefs_elem_c: v.owrefs_elem_c,
    epoll_buf_elem_c: v.epoll_buf_elem_c,
    update_queue_size: v.update_queue_size,
    shutdown_wait_http: v.shutdown_wait_http,
    shutdown_wait_ws: v.shutdown_wait_ws,
    idle_timeout: v.idle_timeout,
    ping_interval: v.ping_interval,
    app_stall_timeout: v.app_stall_timeout,
    ws_msg_timeout: v.ws_msg_timeout,
    upgrade_timeout: v.upgrade_timeout,
    permessage_deflate: deflate,
    metrics,
    cluster,
    ports: ports.ports,
    certs: certs.certs,
    apps: apps.apps,
  };
}

/** Ports nobody uses answer every request with 404: almost certainly a mistake, but harmless. */
function warnUnusedPorts(c: Collector, ports: readonly PortConfig[], apps: readonly AppConfig[]): void {
  const used = new Set(apps.flatMap((a) => a.endpoints.map((e) => e.port)));
  ports.forEach((p, i) => {
    if (!used.has(p.port_number)) c.warn(`$.ports[${i}]`, `no endpoint uses port ${p.port_number}; every request on it is answered 404`);
  });
}
