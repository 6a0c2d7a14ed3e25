// The "certs" list: each certificate's host names (unique across all certificates) and its PEM
// files, which must exist and be readable.
import type { Node } from 'jsonc-parser';
import { resolve as resolvePath } from 'node:path';
import { type Collector, childPath, describe } from './collector.ts';
import { fileProblem, isAccessProblem, optString, readArray, readObject, type Props } from './readers.ts';
import { CERT_KEYS } from './schema.ts';
import type { CertConfig } from './types.ts';
import { parseCertHostname } from './url.ts';

function parseCert(c: Collector, node: Node, path: string, baseDir: string,
  seenNames: Map<string, string>, kept: ReadonlySet<string> | undefined): CertConfig | null {
  const m = readObject(c, node, path, CERT_KEYS, 'a certificate object');
  if (!m) return null;
  let bad = false;
  const hostnames: string[] = [];
  const hn = m.get('hostnames');
  if (!hn) { c.error(childPath(path, 'hostnames'), 'is required: a list of the host names the certificate was issued for', node); bad = true; }
  else {
    const items = readArray(c, hn, childPath(path, 'hostnames'), 'a list of host names', 1, 65535);
    if (!items) bad = true;
    else items.forEach((item, i) => {
      const p = childPath(childPath(path, 'hostnames'), i);
      if (item.type !== 'string') { c.error(p, `must be a host name string, found ${describe(item)}`, item); bad = true; return; }
      const parsed = parseCertHostname(item.value);
      if (!parsed.ok) { c.error(p, `must be a host name, "*.domain" or an IP address: ${parsed.error}, found ${describe(item)}`, item); bad = true; return; }
      const first = seenNames.get(parsed.value);
      if (first) { c.error(p, `the host name ${JSON.stringify(item.value)} is already listed at ${first}`, item); bad = true; return; }
      seenNames.set(parsed.value, p);
      hostnames.push(parsed.value);
    });
  }
  const files: Record<string, string> = {};
  for (const key of ['privkey_path', 'pubchain_path'] as const) {
    const p = childPath(path, key);
    const v = optString(c, m, key, path, 'a file path string');
    if (v === undefined) {
      c.error(p, `is required: the path of the ${key === 'privkey_path' ? 'private key' : 'full certificate chain'} PEM file`, node);
      bad = true;
      continue;
    }
    if (v === null) { bad = true; continue; }
    if (v === '') { c.error(p, 'must be a file path, found ""', m.get(key)); bad = true; continue; }
    const abs = resolvePath(baseDir, v);
    const problem = fileProblem(abs);
    // A reload after the switch to `user`: a file the daemon read at start as root stays in use.
    if (problem && !(kept?.has(abs) && isAccessProblem(problem))) { c.error(p, `the file ${abs} ${problem}`, m.get(key)); bad = true; continue; }
    files[key] = abs;
  }
  if (bad) return null;
  return { hostnames, privkey_path: files.privkey_path, pubchain_path: files.pubchain_path };
}

/**
 * The certificates; `ok` is false when any certificate object had an error. `kept`: files the
 * running daemon has read, accepted when this process may not read them (ConfigEnv.keptFiles).
 */
export function readCerts(c: Collector, g: Props, baseDir: string, kept?: ReadonlySet<string>): { ok: boolean; certs: CertConfig[] } {
  let ok = true;
  const certs: CertConfig[] = [];
  const certsNode = g.get('certs');
  if (certsNode) {
    const items = readArray(c, certsNode, '$.certs', 'a list of certificate objects', 0, 65535);
    if (!items) ok = false;
    else {
      const seen = new Map<string, string>();
      items.forEach((item, i) => {
        const cert = parseCert(c, item, childPath('$.certs', i), baseDir, seen, kept);
        if (cert) certs.push(cert); else ok = false;
      });
    }
  }
  return { ok, certs };
}
