// `ringsocket init [dir]`: a starter project, so that `npx ringsocket init && npx ringsocket` serves
// a first app: ringsocket.json (one port on loopback, one app) and app.ts (an echo app written
// against the installed package). Existing files are never overwritten.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const INIT_PORT = 8080;

const CONFIG = `// RingSocket configuration (JSON with comments). Every key: the README of the ringsocket package,
// "Configuration". Start the server here with: npx ringsocket
{
  "log_level": "notice",
  "ports": [
    { "port_number": ${INIT_PORT}, "is_unencrypted": true, "ip_addrs": ["127.0.0.1", "::1"] }
  ],
  "apps": [
    {
      "name": "hello",
      "app_path": "app.ts",
      "endpoints": [
        // Browsers: list the origins of your pages in each endpoint's "allowed_origins", or a
        // page's request gets 403 (clients that send no Origin header, such as Node's, are always
        // accepted). For a page at http://localhost:5173, add to each endpoint below:
        //   "allowed_origins": ["http://localhost:5173"]
        { "endpoint_id": 1, "url": "ws://localhost:${INIT_PORT}/hello" },
        { "endpoint_id": 2, "url": "ws://127.0.0.1:${INIT_PORT}/hello" },
        { "endpoint_id": 3, "url": "ws://[::1]:${INIT_PORT}/hello" }
      ]
    }
  ]
}
`;

const APP = `// A first RingSocket app: every message goes back to its sender, text as text, binary as binary.
// The app API: the README of the ringsocket package, "Writing an app".
import { defineApp, readAny, bytes } from 'ringsocket';

export default defineApp({
  open: (rs) => {
    rs.log('notice', \`client \${rs.clientId()} connected\`);
  },
  read: readAny([bytes()], (rs, data) => {
    rs.wBytes(data).toCur(rs.readDataKind());
  }),
});
`;

export interface InitResult {
  dir: string;
  written: string[];
  /** Files that were there already (left as they are). */
  kept: string[];
}

/** Writes the starter files into `dir` (created if needed). */
export function initProject(dir: string): InitResult {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const result: InitResult = { dir: abs, written: [], kept: [] };
  for (const [name, text] of [['ringsocket.json', CONFIG], ['app.ts', APP]] as const) {
    const path = join(abs, name);
    if (existsSync(path)) result.kept.push(path);
    else {
      writeFileSync(path, text, { flag: 'wx' });
      result.written.push(path);
    }
  }
  return result;
}
