// A worker's TLS contexts: one per configured certificate, chosen by SNI, and the default one (the
// first certificate) for clients that send no SNI. A reload (src/daemon/reload.ts) replaces them:
// connections accepted from then on get the new certificates, those already made keep theirs.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { CertConfig } from '../../config/types.ts';
import { certCovers } from '../../config/url.ts';

/** A certificate's host names and its PEM files' contents (what the main thread sends on a reload). */
export interface CertFile {
  hostnames: readonly string[];
  key: Buffer;
  cert: Buffer;
}

interface CertContext extends CertFile {
  context: tls.SecureContext;
}

/** Reads every certificate's key and chain (throws the first file that cannot be read). */
export function readCertFiles(certs: readonly CertConfig[]): CertFile[] {
  return certs.map((c) => ({
    hostnames: c.hostnames.map((h) => h.toLowerCase()),
    key: readFileSync(c.privkey_path),
    cert: readFileSync(c.pubchain_path),
  }));
}

/**
 * The context for an SNI name: a cert naming it exactly wins over a wildcard cert that covers it
 * (config/url.ts certCovers: "*.example.com" covers exactly one more label).
 */
export function contextForName<C extends { hostnames: readonly string[] }>(certs: readonly C[], servername: string): C | undefined {
  const name = servername.toLowerCase();
  return certs.find((c) => c.hostnames.includes(name)) ?? certs.find((c) => c.hostnames.some((h) => certCovers(h, name)));
}

/** The minimum TLS version of every wss:// listener. */
export const MIN_TLS_VERSION = 'TLSv1.2';

export class TlsContexts {
  #list: CertContext[];
  readonly #servers: tls.Server[] = [];

  /** Throws when a key and its chain do not make a context (a key that does not match, bad PEM). */
  constructor(files: readonly CertFile[]) {
    this.#list = TlsContexts.#build(files);
  }

  static #build(files: readonly CertFile[]): CertContext[] {
    return files.map((f) => ({ ...f, context: tls.createSecureContext({ key: f.key, cert: f.cert }) }));
  }

  /** The certificate of clients without SNI (e.g. they connected to an IP address): the first one. */
  get first(): CertFile | undefined {
    return this.#list[0];
  }

  /** The SNI callback of every wss:// listener (it reads the current list). */
  readonly sni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const c = contextForName(this.#list, servername);
    if (c) cb(null, c.context);
    else cb(new Error(`no certificate for SNI name ${servername}`));
  };

  /** A listener whose default context `replace` renews. */
  addServer(server: tls.Server): void {
    this.#servers.push(server);
  }

  /**
   * New certificates for connections accepted from now on; TLS connections already made keep
   * theirs. All contexts are built before any is swapped in (a bad one throws, and nothing changes).
   */
  replace(files: readonly CertFile[]): void {
    const list = TlsContexts.#build(files);
    this.#list = list;
    // setSecureContext replaces a listener's default context only; the SNI callback stays ours.
    if (list[0]) for (const s of this.#servers) s.setSecureContext({ key: list[0].key, cert: list[0].cert, minVersion: MIN_TLS_VERSION });
  }

  /** The TLS handshake deadline of new connections on every listener (from shutdown_wait_http). */
  setHandshakeTimeout(ms: number): void {
    for (const s of this.#servers) setHandshakeTimeout(s, ms);
  }
}

/**
 * tls.Server keeps its `handshakeTimeout` option under an internal symbol and has no setter; this
 * sets it when that symbol is there (Node 22 and 24: "handshake-timeout"). Returns whether it did.
 */
export function setHandshakeTimeout(server: tls.Server, ms: number): boolean {
  const sym = Object.getOwnPropertySymbols(server).find((s) => s.description === 'handshake-timeout');
  if (sym === undefined || typeof (server as unknown as Record<symbol, unknown>)[sym] !== 'number') return false;
  (server as unknown as Record<symbol, unknown>)[sym] = ms;
  return true;
}
