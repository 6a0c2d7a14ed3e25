// The stress driver shared by test/stress.test.ts (short form) and test/stress/run.ts (long form):
// starts the real daemon with the stress app (test/fixtures/apps/stress/app.ts), connects echoing
// `ws` clients, churns them, and collects what the app and the clients verified.
import WebSocket from 'ws';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.ts';
import { withDeadline, sleep } from '../helpers/deadline.ts';
import { checkMessage } from '../fixtures/apps/stress/pattern.ts';
import type { Variant, Violation } from '../fixtures/apps/stress/app.ts';

/** How long the drain may take before the outstanding echoes count as lost. */
const DRAIN_MS = 15000;

export interface StressOptions {
  clients: number;
  seconds: number;
  workers: number;
  /** Outstanding-byte budget of the app. */
  budget: number;
  /** Largest content size of one message. */
  maxSize: number;
  /** Client replacements per second (close or drop one, connect a new one); 0 = no churn. */
  churnPerSecond: number;
  seed: number;
  /** Called about once a second with a progress line. */
  progress?: (line: string) => void;
}

/** The app's summary message (see the app's summary()). */
export interface AppSummary {
  type: 'summary';
  running: boolean;
  draining: boolean;
  readOnly: boolean;
  clients: number;
  nextId: number;
  outstandingMsgs: number;
  outstandingBytes: number;
  totalViolations: number;
  sent: Record<Variant, number>;
  addressed: Record<Variant, number>;
  verified: number;
  verifiedBytes: number;
  verifiedByWorker: (number | null)[];
  violations: Record<Violation, number>;
  examples: string[];
  staleSends: number;
  readOnlyPhases: number;
  opens: number;
  closes: number;
  droppedOnClose: number;
}

export interface ClientSideCounts {
  connected: number;
  received: number;
  receivedBytes: number;
  /** Messages whose header or pattern was wrong, or whose id was not above the previous one. */
  violations: number;
  examples: string[];
  /** Closes the clients did not ask for (a 1011 from a crashing app, 1008, 1006 ...). */
  unexpectedCloses: number;
  closeExamples: string[];
  churned: number;
}

export interface StressResult {
  app: AppSummary;
  clients: ClientSideCounts;
  /** The daemon's error lines (any is a failure: app errors, crashed threads). */
  errorLines: string[];
  seconds: number;
  /** Whether every outstanding echo was settled after the drain. */
  drained: boolean;
  /** The daemon's exit status after SIGTERM at the end (null: ended by a signal, see daemonSignal). */
  daemonExit: number | null;
  daemonSignal: NodeJS.Signals | null;
  /** The end of the daemon's output, for the failure message of a wrong exit status. */
  daemonOutputTail: string;
}

class StressClient {
  ws: WebSocket;
  lastId = 0;
  leaving = false;
  private replies: ((text: string) => void)[] = [];
  private counts: ClientSideCounts;
  constructor(ws: WebSocket, counts: ClientSideCounts) {
    this.ws = ws;
    this.counts = counts;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => {
      if (this.leaving) return;
      counts.unexpectedCloses++;
      if (counts.closeExamples.length < 10) counts.closeExamples.push(`${code} ${reason.toString()}`);
    });
    ws.on('error', () => {});
  }
  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      const r = this.replies.shift();
      if (r) r(data.toString());
      else this.violation(`unexpected text message: ${data.toString().slice(0, 80)}`);
      return;
    }
    const c = this.counts;
    c.received++;
    c.receivedBytes += data.length;
    const m = checkMessage(data);
    if (!m.ok) this.violation(m.problem);
    else if (m.id <= this.lastId) this.violation(`id ${m.id} after id ${this.lastId}: out of order`);
    if (m.id > this.lastId) this.lastId = m.id;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true });
  }
  private violation(problem: string): void {
    this.counts.violations++;
    if (this.counts.examples.length < 20) this.counts.examples.push(problem);
  }
  /** Sends a JSON command and waits for the app's text reply. */
  command(cmd: object, ms = 10000): Promise<unknown> {
    const reply = new Promise<string>((resolve) => this.replies.push(resolve));
    this.ws.send(JSON.stringify(cmd));
    return withDeadline(reply, ms, `reply to ${JSON.stringify(cmd)}`).then((t) => JSON.parse(t));
  }
  leave(abrupt: boolean): void {
    this.leaving = true;
    if (abrupt) this.ws.terminate();
    else this.ws.close(1000);
  }
}

function connectClient(url: string, counts: ClientSideCounts): Promise<StressClient> {
  return withDeadline(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 0, perMessageDeflate: false });
    const client = new StressClient(ws, counts);
    ws.once('open', () => { counts.connected++; resolve(client); });
    ws.once('error', reject);
  }), 10000, `connect ${url}`);
}

export function emptyCounts(): ClientSideCounts {
  return { connected: 0, received: 0, receivedBytes: 0, violations: 0, examples: [], unexpectedCloses: 0, closeExamples: [], churned: 0 };
}

/** Runs one stress session against a fresh daemon. */
export async function runStress(o: StressOptions): Promise<StressResult> {
  const d: RunningDaemon = await startDaemon({
    apps: [{ name: 'stress', app_path: 'test/fixtures/apps/stress/app.ts', paths: ['/stress'] }],
    config: {
      log_level: 'info',
      worker_c: o.workers,
      max_ws_msg_size: Math.max(o.maxSize + 16, 65536),
      // The app bounds what is outstanding; a client is never that far behind.
      max_client_outbound_size: o.budget * 2 + 16 * 1024 * 1024,
      idle_timeout: 0,
    },
  });
  const counts = emptyCounts();
  const url = d.url('/stress');
  let app: AppSummary | null = null;
  let drained = false;
  const started = Date.now();
  const clients: StressClient[] = [];
  try {
    // The control client (never churned) and the rest.
    for (let i = 0; i < o.clients; i++) clients.push(await connectClient(url, counts));
    const control = clients[0];
    await control.command({ cmd: 'start', budget: o.budget, maxSize: o.maxSize, seed: o.seed });

    // Churn: replace a random client (not the control one) at the given rate. Connects run in
    // the background; a slot being replaced is not picked again until its new client is there.
    const endAt = started + o.seconds * 1000;
    let nextChurn = Date.now();
    let nextProgress = Date.now() + 1000;
    let abrupt = false;
    let progressPending = false;
    const replacing = new Set<number>();
    const connects: Promise<void>[] = [];
    while (Date.now() < endAt) {
      await sleep(Math.min(50, Math.max(1, endAt - Date.now())));
      if (o.churnPerSecond > 0 && clients.length > 1) {
        // Under heavy load connects can fall behind: drop a backlog older than a second.
        if (Date.now() - nextChurn > 1000) nextChurn = Date.now();
        while (Date.now() >= nextChurn && replacing.size < clients.length - 1) {
          nextChurn += 1000 / o.churnPerSecond;
          let i: number;
          do i = 1 + Math.floor(Math.random() * (clients.length - 1)); while (replacing.has(i));
          clients[i].leave(abrupt);
          abrupt = !abrupt;
          counts.churned++;
          replacing.add(i);
          connects.push(connectClient(url, counts).then((c) => { clients[i] = c; replacing.delete(i); }));
        }
      }
      if (o.progress && !progressPending && Date.now() >= nextProgress) {
        nextProgress = Date.now() + 1000;
        progressPending = true;
        const progress = o.progress;
        // The reply queues behind the control client's stress traffic: don't let it hold the loop.
        void control.command({ cmd: 'summary' }, 30000).then((reply) => {
          const s = reply as AppSummary;
          progress(`${((Date.now() - started) / 1000).toFixed(0)}s: ${s.verified} echoes verified ` +
            `(${(s.verifiedBytes / 1048576).toFixed(1)} MiB), ${s.clients} clients, ${s.readOnlyPhases} read-only phases, ` +
            `${s.totalViolations + counts.violations} violations`);
        }, () => {}).finally(() => { progressPending = false; });
      }
    }
    await Promise.all(connects);

    // Drain: nothing new is sent; wait until every echo is in.
    await control.command({ cmd: 'drain' });
    const drainStart = Date.now();
    for (;;) {
      app = (await control.command({ cmd: 'summary' })) as AppSummary;
      if (app.outstandingMsgs === 0 && app.outstandingBytes === 0) { drained = true; break; }
      // Echoes of a lost message never come: with violations found already, don't wait long.
      const waited = Date.now() - drainStart;
      if (waited > DRAIN_MS || (waited > 2000 && app.totalViolations + counts.violations > 0)) break;
      await sleep(100);
    }
  } catch (err) {
    // The run broke off: the daemon is stopped all the same (or it would keep the process alive),
    // and what it said goes with the error.
    const code = await d.stop();
    if (err instanceof Error) {
      err.message += `\n    the daemon then exited with ${code ?? d.proc.signalCode}; its output ends:\n${d.output().slice(-3000)}`;
    }
    throw err;
  } finally {
    for (const c of clients) c.leave(false);
    await sleep(200);
  }
  const daemonExit = await d.stop();
  const errorLines = d.output().split('\n').filter((l) => / error /.test(l));
  return {
    app: app!, clients: counts, errorLines, seconds: (Date.now() - started) / 1000, drained,
    daemonExit, daemonSignal: d.proc.signalCode, daemonOutputTail: d.output().slice(-3000),
  };
}

/** Every reason the result is a failure (empty: it passed). */
export function failures(r: StressResult): string[] {
  const f: string[] = [];
  if (r.app.totalViolations > 0) f.push(`the app found ${r.app.totalViolations} violations ${JSON.stringify(r.app.violations)}; first: ${r.app.examples.slice(0, 5).join('; ')}`);
  if (r.clients.violations > 0) f.push(`the clients found ${r.clients.violations} violations; first: ${r.clients.examples.slice(0, 5).join('; ')}`);
  if (r.clients.unexpectedCloses > 0) f.push(`${r.clients.unexpectedCloses} unexpected closes: ${r.clients.closeExamples.join('; ')}`);
  if (!r.drained) f.push(`${r.app.outstandingMsgs} echoes (${r.app.outstandingBytes} bytes) still outstanding ${DRAIN_MS / 1000} s after the drain`);
  if (r.errorLines.length > 0) f.push(`${r.errorLines.length} daemon error lines; first:\n${r.errorLines.slice(0, 5).join('\n')}`);
  if (r.daemonExit !== 0) {
    f.push(`the daemon exited with ${r.daemonExit ?? `signal ${r.daemonSignal}`} after SIGTERM (expected 0); its output ends:\n${r.daemonOutputTail}`);
  }
  if (r.app.verified > r.clients.received) f.push(`the app verified ${r.app.verified} echoes but the clients received only ${r.clients.received}`);
  return f;
}

/** A human-readable report of a result. */
export function report(r: StressResult, o: StressOptions): string {
  const a = r.app;
  const lines = [
    `stress: ${o.clients} clients, ${o.workers} workers, ${r.seconds.toFixed(1)} s, budget ${(o.budget / 1048576).toFixed(0)} MiB, ` +
      `content up to ${o.maxSize} bytes, churn ${o.churnPerSecond}/s, seed ${o.seed}`,
    `  echoes verified by the app: ${a.verified} (${(a.verifiedBytes / 1048576).toFixed(1)} MiB of content), ` +
      `per worker: ${a.verifiedByWorker.map((n) => n ?? 0).join(' / ')}`,
    `  messages received and checked by the clients: ${r.clients.received} (${(r.clients.receivedBytes / 1048576).toFixed(1)} MiB)`,
    `  sends per variant (messages / addressed deliveries):`,
    ...Object.keys(a.sent).map((v) => `    ${v.padEnd(20)} ${String(a.sent[v as Variant]).padStart(9)} / ${a.addressed[v as Variant]}`),
    `  stale ids addressed: ${a.staleSends}; read-only phases: ${a.readOnlyPhases}; opens ${a.opens}, closes ${a.closes} ` +
      `(${r.clients.churned} churned), echoes dropped with a closing client: ${a.droppedOnClose}`,
    `  violations: app ${a.totalViolations} ${JSON.stringify(a.violations)}, clients ${r.clients.violations}, ` +
      `unexpected closes ${r.clients.unexpectedCloses}, daemon error lines ${r.errorLines.length}`,
    `  drained: ${r.drained ? 'yes, every echo verified or dropped with its client' : 'NO'}`,
    `  daemon: exit status ${r.daemonExit ?? `none (signal ${r.daemonSignal})`} after SIGTERM`,
  ];
  return lines.join('\n');
}
