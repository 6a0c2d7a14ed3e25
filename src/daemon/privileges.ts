// Who the daemon runs as (config keys `user` and `group`). Started as root with a `user`, the main
// thread switches the whole process to that user once every worker has bound its listeners and read
// its certificates, and before any app thread starts (src/daemon/main.ts has the order):
// supplementary groups (initgroups, or only the group for a uid without a passwd entry), then the
// gid, then the uid. glibc applies setgroups/setgid/setuid to every thread of the process (it
// signals each one to make the same system call), so the worker threads switch too; the switch is
// then checked thread by thread in /proc/self/task/*/status, capabilities included: a setuid from
// root to another uid clears the permitted and effective capability sets (no keep-caps here).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { AccountRef } from '../config/ops.ts';
import type { Config } from '../config/types.ts';

/** A passwd entry: name, uid, primary gid. */
export interface UserEntry { name: string; uid: number; gid: number }
/** A group entry: name, gid. */
export interface GroupEntry { name: string; gid: number }

/** Looks accounts up by name or by numeric id; null = no such entry. */
export interface AccountLookup {
  user(ref: AccountRef): UserEntry | null;
  group(ref: AccountRef): GroupEntry | null;
}

/** What the process switches to. */
export interface RunAs {
  /** How the config names the user and group (for messages). */
  user: string;
  group: string;
  uid: number;
  gid: number;
  /** The passwd name, for initgroups; null for a uid without an entry (its groups: only `gid`). */
  initgroupsName: string | null;
}

export type PrivilegePlan =
  | { kind: 'switch'; runAs: RunAs }
  | { kind: 'keep'; level: 'warning' | 'notice' | 'info'; message: string }
  | { kind: 'error'; message: string };

/** The root uid. */
export const ROOT_UID = 0;
/** getent's exit status for "not found" (getent(1)). */
const GETENT_NOT_FOUND = 2;
const GETENT_TIMEOUT_MS = 5000;

function label(ref: AccountRef): string {
  return typeof ref === 'number' ? String(ref) : JSON.stringify(ref);
}

/** One colon-separated entry (passwd or group format) by name or by id; null when absent. */
function findEntry(lines: readonly string[], ref: AccountRef): string[] | null {
  const key = String(ref);
  const byId = typeof ref === 'number';
  for (const line of lines) {
    const f = line.split(':');
    if (f.length >= 3 && (byId ? f[2] === key : f[0] === key)) return f;
  }
  return null;
}

/**
 * `getent passwd|group <ref>` (so NSS sources such as LDAP count), or the plain /etc file when
 * getent is not installed. Returns the entry's fields, or null when there is none.
 */
function lookupEntry(db: 'passwd' | 'group', ref: AccountRef): string[] | null {
  try {
    const out = execFileSync('getent', [db, String(ref)], { encoding: 'utf8', timeout: GETENT_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
    return findEntry(out.split('\n'), ref);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number };
    if (err.status === GETENT_NOT_FOUND) return null;
    if (err.code !== 'ENOENT') throw new Error(`getent ${db} ${ref} failed: ${err.message}`);
  }
  return findEntry(readFileSync(`/etc/${db}`, 'utf8').split('\n'), ref);
}

export const systemAccounts: AccountLookup = {
  user(ref) {
    const f = lookupEntry('passwd', ref);
    return f && f.length >= 4 ? { name: f[0], uid: Number(f[2]), gid: Number(f[3]) } : null;
  },
  group(ref) {
    const f = lookupEntry('group', ref);
    return f ? { name: f[0], gid: Number(f[2]) } : null;
  },
};

/** The user and group of the config as ids, or why they cannot be used. */
export function resolveRunAs(user: AccountRef, group: AccountRef | null, lookup: AccountLookup = systemAccounts): RunAs | { error: string; key: 'user' | 'group' } {
  const u = lookup.user(user);
  if (u === null && typeof user === 'string') {
    return { key: 'user', error: `user ${label(user)} does not exist on this machine (create it, e.g. useradd --system --no-create-home --shell /usr/sbin/nologin ${user})` };
  }
  let gid: number;
  let groupName: string;
  if (group !== null) {
    const g = lookup.group(group);
    if (g === null && typeof group === 'string') return { key: 'group', error: `group ${label(group)} does not exist on this machine` };
    gid = g?.gid ?? (group as number);
    groupName = g?.name ?? String(group);
  } else if (u !== null) {
    gid = u.gid;
    groupName = lookup.group(u.gid)?.name ?? String(u.gid);
  } else {
    return { key: 'group', error: `uid ${user} has no passwd entry, so it has no primary group: set "group" too` };
  }
  const uid = u?.uid ?? (user as number);
  return {
    user: u ? `${u.name} (uid ${uid})` : `uid ${uid}`,
    group: `${groupName} (gid ${gid})`,
    uid,
    gid,
    initgroupsName: u?.name ?? null,
  };
}

/**
 * What the daemon does about its user, given the config and its effective uid: switch (root with a
 * `user`), keep (with a warning or a notice to log), or refuse to start (the user does not exist).
 */
export function planPrivileges(config: Pick<Config, 'user' | 'group'>, euid: number, lookup: AccountLookup = systemAccounts): PrivilegePlan {
  if (euid !== ROOT_UID) {
    if (config.user === null) return { kind: 'keep', level: 'info', message: `running as uid ${euid}` };
    return { kind: 'keep', level: 'notice', message: `"user" is ignored: not started as root (uid ${euid}), so the daemon keeps running as uid ${euid}` };
  }
  if (config.user === null) {
    return {
      kind: 'keep', level: 'warning',
      message: 'running as root: set "user" in the config so that the daemon gives up root once its ports are bound and its certificates read',
    };
  }
  const r = resolveRunAs(config.user, config.group, lookup);
  if ('error' in r) return { kind: 'error', message: r.error };
  if (r.uid === ROOT_UID) return { kind: 'keep', level: 'warning', message: `"user" is root: the daemon keeps every privilege` };
  return { kind: 'switch', runAs: r };
}

/** The process functions the switch uses (a seam for tests). */
export interface CredentialCalls {
  initgroups(user: string, extraGroup: number): void;
  setgroups(groups: number[]): void;
  setgid(id: number): void;
  setuid(id: number): void;
}

/** Switches the whole process (every thread): supplementary groups, then gid, then uid. */
export function switchUser(runAs: RunAs, calls: CredentialCalls = process as unknown as CredentialCalls): void {
  if (runAs.initgroupsName !== null) calls.initgroups(runAs.initgroupsName, runAs.gid);
  else calls.setgroups([runAs.gid]);
  calls.setgid(runAs.gid);
  calls.setuid(runAs.uid);
}

/** One thread's credentials from /proc/<pid>/task/<tid>/status. */
export interface ThreadCredentials {
  tid: number;
  name: string;
  /** Real, effective, saved, filesystem. */
  uids: number[];
  gids: number[];
  groups: number[];
  /** Capability sets as hex strings (CapPrm, CapEff, CapAmb). */
  capPrm: string;
  capEff: string;
  capAmb: string;
}

/** Parses one status file. */
export function parseStatus(tid: number, text: string): ThreadCredentials {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    return m ? m[1].trim() : '';
  };
  const ids = (name: string) => field(name).split(/\s+/).filter(Boolean).map(Number);
  return {
    tid, name: field('Name'), uids: ids('Uid'), gids: ids('Gid'), groups: ids('Groups'),
    capPrm: field('CapPrm'), capEff: field('CapEff'), capAmb: field('CapAmb'),
  };
}

/** The credentials of every thread of a process (default: this one). */
export function threadCredentials(pid: number | 'self' = 'self'): ThreadCredentials[] {
  const dir = `/proc/${pid}/task`;
  const out: ThreadCredentials[] = [];
  for (const t of readdirSync(dir)) {
    let text: string;
    try {
      text = readFileSync(`${dir}/${t}/status`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    out.push(parseStatus(Number(t), text));
  }
  return out;
}

/** A capability set with no capability in it. */
export function noCapabilities(hex: string): boolean {
  return hex !== '' && /^0+$/.test(hex);
}

/** What is wrong with the threads' credentials after a switch to `runAs` (empty: all right). */
export function credentialProblems(threads: readonly ThreadCredentials[], runAs: Pick<RunAs, 'uid' | 'gid'>, groups: readonly number[]): string[] {
  const want = [...groups].sort((a, b) => a - b).join(' ');
  const problems: string[] = [];
  for (const t of threads) {
    const what = `thread ${t.tid} (${t.name})`;
    if (t.uids.length !== 4 || t.uids.some((u) => u !== runAs.uid)) problems.push(`${what}: uids ${t.uids.join(' ')}, expected ${runAs.uid}`);
    if (t.gids.length !== 4 || t.gids.some((g) => g !== runAs.gid)) problems.push(`${what}: gids ${t.gids.join(' ')}, expected ${runAs.gid}`);
    if ([...t.groups].sort((a, b) => a - b).join(' ') !== want) problems.push(`${what}: groups ${t.groups.join(' ')}, expected ${want}`);
    for (const [set, hex] of [['CapPrm', t.capPrm], ['CapEff', t.capEff], ['CapAmb', t.capAmb]] as const) {
      if (!noCapabilities(hex)) problems.push(`${what}: ${set} ${hex}, expected none`);
    }
  }
  return problems;
}

/**
 * Switches to `runAs` and checks every thread; throws when a thread kept other ids, groups or any
 * capability (the daemon must then not serve). Returns a line for the log.
 */
export function dropPrivileges(runAs: RunAs): string {
  switchUser(runAs);
  const threads = threadCredentials();
  const problems = credentialProblems(threads, runAs, process.getgroups!());
  if (problems.length) throw new Error(`the switch to user ${runAs.user} did not reach every thread:\n${problems.join('\n')}`);
  return `now running as user ${runAs.user}, group ${runAs.group}, groups ${process.getgroups!().join(',')}; ` +
    `${threads.length} threads checked, no capabilities left`;
}
