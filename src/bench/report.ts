// Human-readable output of a bench run: the final table.
import type { BenchResult } from './driver.ts';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, d = 1) => n.toFixed(d);

export function formatBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (a >= 1024 * 1024) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (a >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

function latency(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

function rows(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

/** Several URLs: one line per URL with its connections, messages per second and latency. */
function perTarget(r: BenchResult): string {
  const unit = r.mode === 'echo' ? 'echoes/s' : r.mode === 'broadcast' ? 'deliveries/s' : 'handshakes/s';
  const head = ['URL', r.mode === 'broadcast' ? 'clients (senders)' : 'connections', unit, 'p50', 'p99'];
  const body = r.targets.map((t) => [
    t.url,
    `${int(t.connections.opened)} of ${int(t.connections.requested)}${r.mode === 'broadcast' ? ` (${int(t.senders)})` : ''}`,
    int(t.messages.perSecond),
    t.latencyUs.count > 0 ? latency(t.latencyUs.p50) : '-',
    t.latencyUs.count > 0 ? latency(t.latencyUs.p99) : '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  return ['  per URL', line(head), ...body.map(line)].join('\n');
}

export function formatTable(r: BenchResult): string {
  const o = r.options;
  const kind = `${o.binary ? 'binary' : 'text'}${o.deflate ? ', permessage-deflate' : ''}`;
  const where = r.targets.length > 1 ? `${r.targets.length} URLs` : r.url;
  let title: string;
  if (r.mode === 'echo') title = `echo ${where}: ${o.connections} connections, ${o.inFlight} in flight, ${o.size} B ${kind}`;
  else if (r.mode === 'broadcast') {
    title = `broadcast ${where}: ${o.connections} clients, ${o.senders} sender(s), ` +
      `${o.rate === null ? `window ${o.inFlight}` : `${int(o.rate)} msgs/s`}, ${o.size} B ${kind}`;
  } else title = `connect ${where}: ${o.connections} idle connections, then ${o.inFlight} concurrent handshakes`;
  const out: string[] = [title, `  ${o.threads} client thread(s), measured ${fixed(r.windowSeconds, 2)} s`, ''];

  const t: [string, string][] = [];
  t.push(['connections', `${int(r.connections.opened)} opened of ${int(r.connections.requested)}, ${int(r.connections.failed)} failed`]);
  if (r.mode === 'echo') {
    t.push(['throughput', `${int(r.messages.perSecond)} echoes/s  (${fixed(r.mbPerSecond, 2)} MB/s payload in)`]);
  } else if (r.mode === 'broadcast') {
    t.push(['throughput', `${int(r.messages.perSecond)} deliveries/s  (${fixed(r.mbPerSecond, 2)} MB/s payload in)`]);
    if (r.completed) t.push(['', `${int(r.completed.perSecond)} messages/s delivered to every client`]);
    if (r.skipped > 0) t.push(['rate', `${int(r.skipped)} sends skipped: the rate was not kept up`]);
  } else if (r.connect) {
    t.push(['handshakes', `${int(r.connect.handshakesPerSecond)} /s  (${int(r.connect.handshakes)} in the window)`]);
  }
  out.push(rows(t), '');

  const l = r.latencyUs;
  out.push(`  latency (${r.mode === 'connect' ? 'handshake' : r.mode === 'echo' ? 'round trip' : 'send to each delivery'}, ${int(l.count)} samples)`);
  out.push('    p50        p90        p99        p99.9      max        mean');
  out.push('    ' + [l.p50, l.p90, l.p99, l.p999, l.max, l.mean].map((v) => latency(v).padEnd(11)).join('').trimEnd(), '');

  if (r.targets.length > 1) out.push(perTarget(r), '');

  const c: [string, string][] = [];
  c.push(['client CPU', `${fixed(r.cpu.client.cores, 2)} cores (${fixed(r.cpu.client.seconds, 2)} s)${r.cpu.client.cores > 0.9 * o.threads ? '  <- the client may be the bottleneck' : ''}`]);
  if (r.cpu.server) {
    const one = (x: { cores: number; seconds: number; rssBytes: number }) => `${fixed(x.cores, 2)} cores (${fixed(x.seconds, 2)} s)`;
    if (r.cpu.servers.length === 1) {
      c.push(['server CPU', `${one(r.cpu.server)}, pid ${r.cpu.servers[0].pid}, RSS ${formatBytes(r.cpu.server.rssBytes)}`]);
    } else {
      c.push(['server CPU', `${one(r.cpu.server)} in all, RSS ${formatBytes(r.cpu.server.rssBytes)}`]);
      for (const x of r.cpu.servers) c.push(['', `pid ${x.pid}: ${one(x)}, RSS ${formatBytes(x.rssBytes)}`]);
    }
    if (r.perServerCpuSecond !== null) {
      const unit = r.mode === 'echo' ? 'echoes' : r.mode === 'broadcast' ? 'deliveries' : 'handshakes';
      c.push(['per server CPU-s', `${int(r.perServerCpuSecond)} ${unit}`]);
    }
  } else {
    c.push(['server CPU', 'not measured (give --pid)']);
  }
  if (r.connect) {
    const i = r.connect.idle;
    c.push(['idle connections', `${int(i.connections)} held`]);
    if (i.bytesPerConnection !== null) {
      c.push(['server memory', `${formatBytes(i.rssBeforeBytes!)} -> ${formatBytes(i.rssAfterBytes!)}: ${int(i.bytesPerConnection)} bytes per connection`]);
    } else {
      c.push(['server memory', 'not measured (give --pid)']);
    }
  }
  out.push(rows(c), '');

  const e = r.errors;
  if (e.total === 0) {
    out.push('  errors: none (every payload verified)');
  } else {
    out.push(`  ERRORS: ${e.total}: ${e.mismatches} mismatches, ${e.protocolErrors} protocol errors, ` +
      `${e.unexpectedCloses} unexpected closes, ${e.uncleanCloses} unclean closes, ${e.connectFailed} failed connects, ${e.lost} lost`);
  }
  for (const s of r.errorSamples) out.push(`    ${s}`);
  return out.join('\n') + '\n';
}
