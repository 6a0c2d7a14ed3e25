// A recording AppHost: runs an app without a daemon, for unit tests and tools. Every send, close
// and log line is copied into `events` in call order.
import type { Config } from '../config/types.ts';
import type { LogLevel } from '../log.ts';
import type { DataKind } from '../core/codes.ts';
import type { AppHost, Recipients } from './runtime.ts';

export type HostEvent =
  | { type: 'send'; kind: DataKind; bytes: Uint8Array; to: Recipients }
  | { type: 'close'; id: number; code: number }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'upgrade-reply'; id: number; status: number };

export interface RecordingHost extends AppHost {
  readonly events: HostEvent[];
  /** The sends so far, in order. */
  sends(): Extract<HostEvent, { type: 'send' }>[];
  /** The closes so far, as [id, code] pairs. */
  closes(): [number, number][];
  /** The log lines so far, as "level: message". */
  logs(): string[];
  /** The upgrade hook's answers so far, as [id, status] pairs (0 = accepted). */
  upgradeReplies(): [number, number][];
  /** Forgets everything recorded. */
  clear(): void;
}

/** A config with the fields the app runtime reads; tests override what they need. */
export function testConfig(overrides: Partial<Config> = {}, appName = 'test'): Config {
  const base = {
    configPath: '(test)',
    log_level: 'debug',
    worker_c: 1,
    max_ws_msg_size: 16 * 1024 * 1024,
    apps: [{ name: appName, app_path: '(test)', endpoints: [], wbuf_size: 1024, no_open_cb: false, no_close_cb: false, update_queue_size: 5 }],
  };
  return { ...base, ...overrides } as Config;
}

export function createRecordingHost(config: Config = testConfig(), appName = 'test'): RecordingHost {
  const events: HostEvent[] = [];
  return {
    appName,
    config,
    events,
    send(kind: DataKind, payload: Uint8Array, to: Recipients) {
      const copy: Recipients = 'ids' in to ? { ...to, ids: [...to.ids] } : { ...to };
      events.push({ type: 'send', kind, bytes: payload.slice(), to: copy });
    },
    closeClient(id: number, code: number) {
      events.push({ type: 'close', id, code });
    },
    log(level: LogLevel, message: string) {
      events.push({ type: 'log', level, message });
    },
    upgradeReply(id: number, status: number) {
      events.push({ type: 'upgrade-reply', id, status });
    },
    sends() {
      return events.filter((e) => e.type === 'send');
    },
    closes() {
      return events.filter((e) => e.type === 'close').map((e) => [e.id, e.code] as [number, number]);
    },
    logs() {
      return events.filter((e) => e.type === 'log').map((e) => `${e.level}: ${e.message}`);
    },
    upgradeReplies() {
      return events.filter((e) => e.type === 'upgrade-reply').map((e) => [e.id, e.status] as [number, number]);
    },
    clear() {
      events.length = 0;
    },
  };
}
