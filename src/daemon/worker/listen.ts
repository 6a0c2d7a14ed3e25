// Listening: one endpoint table per configured port, TLS contexts with SNI, and one listener per
// address (SO_REUSEPORT: every worker listens on every address and the kernel spreads connections).
import net from 'node:net';
import tls from 'node:tls';
import type { Config } from '../../config/types.ts';
import { EndpointTable, type EndpointSpec } from '../../http/upgrade.ts';
import type { Logger } from '../../log.ts';
import { MIN_TLS_VERSION, TlsContexts, readCertFiles } from './tls-contexts.ts';

export { contextForName } from './tls-contexts.ts';

/** The endpoints served on each port, by port number. */
export function endpointTables(config: Config): Map<number, EndpointTable<EndpointSpec>> {
  const tables = new Map<number, EndpointTable<EndpointSpec>>();
  for (const port of config.ports) {
    const specs: EndpointSpec[] = [];
    config.apps.forEach((app, appIndex) => {
      for (const ep of app.endpoints) {
        if (ep.port !== port.port_number) continue;
        specs.push({
          appIndex,
          endpointId: ep.endpoint_id,
          secure: ep.secure,
          hostHeaders: ep.hostHeaders,
          path: ep.path,
          allowedOrigins: ep.allowed_origins,
          subprotocols: ep.subprotocols,
        });
      }
    });
    tables.set(port.port_number, new EndpointTable(specs));
  }
  return tables;
}

/** The TLS options of every wss:// listener: the default certificate and the SNI lookup of `contexts`. */
export function tlsOptions(config: Config, contexts: TlsContexts): tls.TlsOptions {
  return {
    // A client that sends no SNI (e.g. it connected to an IP address) gets the first cert.
    key: contexts.first?.key,
    cert: contexts.first?.cert,
    minVersion: MIN_TLS_VERSION,
    handshakeTimeout: Math.max(1, config.shutdown_wait_http) * 1000,
    SNICallback: contexts.sni,
  };
}

/**
 * Listens on every configured address; `onSocket` gets each accepted socket with its port's
 * endpoint table. Returns the servers, the URLs listened on, the tables (by port: a reload replaces
 * them, and each accept looks its table up) and the TLS contexts (null without a wss:// port).
 */
export async function listenAll(
  config: Config,
  log: Logger,
  onSocket: (socket: net.Socket, table: EndpointTable<EndpointSpec>) => void,
): Promise<{ servers: net.Server[]; where: string[]; tables: Map<number, EndpointTable<EndpointSpec>>; tls: TlsContexts | null }> {
  const tables = endpointTables(config);
  const servers: net.Server[] = [];
  const where: string[] = [];
  const contexts = config.ports.some((p) => !p.is_unencrypted) ? new TlsContexts(readCertFiles(config.certs)) : null;
  const secure = contexts ? tlsOptions(config, contexts) : null;
  for (const port of config.ports) {
    const portNumber = port.port_number;
    for (const addr of port.listen) {
      const accept = (s: net.Socket) => onSocket(s, tables.get(portNumber)!);
      let server: net.Server;
      if (port.is_unencrypted) {
        server = net.createServer({ noDelay: true, allowHalfOpen: true }, accept);
      } else {
        server = tls.createServer({ ...secure!, noDelay: true, allowHalfOpen: true }, accept);
        contexts!.addServer(server as tls.Server);
        server.on('tlsClientError', (err) => log.debug(`TLS handshake failed: ${err.message}`));
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: addr.host, port: port.port_number, reusePort: true, ipv6Only: addr.ipv6Only, backlog: 1024 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error(`listener ${addr.host}:${port.port_number}: ${err.message}`));
      servers.push(server);
      const scheme = port.is_unencrypted ? 'ws' : 'wss';
      where.push(`${scheme}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port.port_number}`);
    }
  }
  return { servers, where, tables, tls: contexts };
}
