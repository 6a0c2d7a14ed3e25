// Listening: one endpoint table per configured port, TLS contexts with SNI, and one listener per
// address (SO_REUSEPORT: every worker listens on every address and the kernel spreads connections).
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/types.ts';
import { certCovers } from '../../config/url.ts';
import { EndpointTable, type EndpointSpec } from '../../http/upgrade.ts';
import type { Logger } from '../../log.ts';

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

interface CertContext {
  hostnames: readonly string[];
  key: Buffer;
  cert: Buffer;
  context: tls.SecureContext;
}

/**
 * The context for an SNI name: a cert naming it exactly wins over a wildcard cert that covers it
 * (config/url.ts certCovers: "*.example.com" covers exactly one more label).
 */
export function contextForName<C extends { hostnames: readonly string[] }>(certs: readonly C[], servername: string): C | undefined {
  const name = servername.toLowerCase();
  return certs.find((c) => c.hostnames.includes(name)) ?? certs.find((c) => c.hostnames.some((h) => certCovers(h, name)));
}

/** One TLS context per configured cert, and the SNI lookup over their hostnames. */
export function tlsOptions(config: Config): tls.TlsOptions {
  const contexts: CertContext[] = config.certs.map((c) => {
    const key = readFileSync(c.privkey_path);
    const cert = readFileSync(c.pubchain_path);
    return { hostnames: c.hostnames.map((h) => h.toLowerCase()), key, cert, context: tls.createSecureContext({ key, cert }) };
  });
  return {
    // A client that sends no SNI (e.g. it connected to an IP address) gets the first cert.
    key: contexts[0]?.key,
    cert: contexts[0]?.cert,
    minVersion: 'TLSv1.2',
    handshakeTimeout: Math.max(1, config.shutdown_wait_http) * 1000,
    SNICallback(servername, cb) {
      const c = contextForName(contexts, servername);
      if (c) cb(null, c.context);
      else cb(new Error(`no certificate for SNI name ${servername}`));
    },
  };
}

/**
 * Listens on every configured address; `onSocket` gets each accepted socket with its port's
 * endpoint table. Returns the servers and the URLs listened on.
 */
export async function listenAll(
  config: Config,
  log: Logger,
  onSocket: (socket: net.Socket, table: EndpointTable<EndpointSpec>) => void,
): Promise<{ servers: net.Server[]; where: string[] }> {
  const tables = endpointTables(config);
  const servers: net.Server[] = [];
  const where: string[] = [];
  const secure = config.ports.some((p) => !p.is_unencrypted) ? tlsOptions(config) : null;
  for (const port of config.ports) {
    const table = tables.get(port.port_number)!;
    for (const addr of port.listen) {
      const accept = (s: net.Socket) => onSocket(s, table);
      let server: net.Server;
      if (port.is_unencrypted) {
        server = net.createServer({ noDelay: true, allowHalfOpen: true }, accept);
      } else {
        server = tls.createServer({ ...secure!, noDelay: true, allowHalfOpen: true }, accept);
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
  return { servers, where };
}
