// DNS interface of the control plane (`weft control --dns-listen`): assembles the catalog view, the
// query handler and its metrics, and the UDP and TCP servers on one address and port.

import { isIP } from 'node:net';
import type { Logger } from '../../lib/log.ts';
import type { Registry } from '../../lib/metrics.ts';
import { WeftError } from '../../lib/errors.ts';
import { CatalogDnsView } from './catalog-view.ts';
import type { DnsSource } from './service-source.ts';
import { DnsHandler } from './handler.ts';
import { startTcpDnsServer, type TcpDnsServer } from './tcp-server.ts';
import { startUdpDnsServer, type UdpDnsServer } from './udp-server.ts';

/** Default TTL of answers and of negative caching, seconds: short, so health changes reach clients soon. */
export const DEFAULT_DNS_TTL_SECONDS = 5;
/** The TTL range `--dns-ttl` accepts, seconds (0: clients must not cache). */
export const MAX_DNS_TTL_SECONDS = 3600;

export interface DnsServerOptions {
  /** An IP address (`127.0.0.1`, `0.0.0.0`, `::`). */
  readonly host: string;
  /** UDP and TCP both; 0 picks a free port (the same for both). */
  readonly port: number;
  /** 0–3600 seconds (default 5). */
  readonly ttlSeconds?: number;
  /** The services answers come from (service-source.ts openDnsSource: the catalog and Service resources). */
  readonly source: DnsSource;
  readonly metrics: Registry;
  readonly log: Logger;
  /** The first SOA serial (default: seconds since the epoch now). */
  readonly startSerial?: number;
}

export interface DnsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Checks the DNS settings; throws WEFT_ERR_DNS_CONFIG (400) naming the setting. Called before
 * anything binds, by the control plane and (for a usage error per flag) by the CLI.
 */
export function checkDnsSettings(settings: { host?: string; ttlSeconds?: number }): void {
  if (settings.host !== undefined && isIP(settings.host) === 0) {
    throw new WeftError('WEFT_ERR_DNS_CONFIG', `the DNS listen host must be an IP address (127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(settings.host)}`, 400);
  }
  const ttl = settings.ttlSeconds;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_DNS_TTL_SECONDS)) {
    throw new WeftError('WEFT_ERR_DNS_CONFIG', `the DNS TTL must be whole seconds from 0 to ${MAX_DNS_TTL_SECONDS}, got ${ttl}`, 400);
  }
}

/**
 * Starts the DNS interface. Answers come from the catalog's memory (CatalogDnsView), so a health
 * change shows in the next answer. Counts `weft_control_dns_queries_total{type, rcode}`.
 * Rejects with WEFT_ERR_DNS_LISTEN (naming the address and the errno, e.g. EADDRINUSE, EACCES)
 * when UDP or TCP cannot bind (after a few tries when the port was 0).
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  checkDnsSettings(options);
  const { log } = options;
  const queries = options.metrics.counter('weft_control_dns_queries_total', 'DNS responses by question type and response code.', ['type', 'rcode']);
  const view = new CatalogDnsView(options.source, options.startSerial ?? Math.floor(Date.now() / 1000));
  const handler = new DnsHandler({
    view,
    ttlSeconds: options.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS,
    onResponse: (type, rcode) => queries.inc({ type, rcode }),
    onError: (err) => log.error('dns: answering failed', { err: (err as Error)?.message ?? String(err) }),
  });
  let udp: UdpDnsServer | undefined;
  let tcp: TcpDnsServer | undefined;
  // With port 0 the UDP port is picked first; TCP may find it taken and then both try again.
  for (let attempt = 0; ; attempt++) {
    try {
      udp = await startUdpDnsServer({ host: options.host, port: options.port, handler, log });
      tcp = await startTcpDnsServer({ host: options.host, port: udp.port, handler, log });
      break;
    } catch (err) {
      await udp?.close();
      udp = undefined;
      if (options.port !== 0 || attempt >= 4 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        view.close();
        const where = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
        throw new WeftError('WEFT_ERR_DNS_LISTEN', `cannot serve DNS on ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 500);
      }
    }
  }
  const port = udp.port;
  log.info('dns listening', { host: options.host, port, transports: 'udp,tcp' });
  return {
    host: options.host,
    port,
    async close() {
      view.close();
      await Promise.all([udp?.close(), tcp?.close()]);
    },
  };
}
