// `weft control --dns-listen IP:PORT --dns-ttl DURATION`: the DNS interface's flags, parsed and
// checked one flag at a time so that a bad value is a usage error (exit 2) naming its flag.

import { checkDnsSettings } from '../control/dns/dns-server.ts';
import { WeftError } from '../lib/errors.ts';
import { str, ttlSeconds, type Parsed } from './command.ts';

/** The option specs to merge into `weft control`'s parseCommand options. */
export const dnsFlagOptions = {
  'dns-listen': { type: 'string' },
  'dns-ttl': { type: 'string' },
} as const;

/** The usage lines of the flags, for `weft control --help`. */
export const dnsFlagUsage = `  --dns-listen IP:PORT   also serve DNS over UDP and TCP there: A/AAAA and SRV of healthy
                         instances for NAME.NAMESPACE.svc.cluster.local, NAME.NAMESPACE and
                         [TAG.]NAME.service.consul (default: off; docs/concepts/dns.md)
  --dns-ttl DURATION     TTL of DNS answers and of negative caching: seconds or 30s, 1m
                         (default 5s; 0 to 1h)`;

/** The control plane options the flags give; both undefined without `--dns-listen`. */
export function dnsFlags(parsed: Parsed): { dnsListen?: { host: string; port: number }; dnsTtlSeconds?: number } {
  const dnsListen = parseDnsListen(str(parsed, 'dns-listen'));
  const v = str(parsed, 'dns-ttl');
  // `0` is a valid TTL (clients must not cache), which the shared duration parser refuses.
  const dnsTtlSeconds = v === '0' ? 0 : ttlSeconds(v, '--dns-ttl');
  if (dnsTtlSeconds !== undefined && !dnsListen) throw new WeftError('WEFT_ERR_CLI_USAGE', '--dns-ttl needs --dns-listen', 2);
  try {
    checkDnsSettings({ ttlSeconds: dnsTtlSeconds });
  } catch (err) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `--dns-ttl: ${(err as Error).message}`, 2);
  }
  return dnsListen ? { dnsListen, dnsTtlSeconds } : {};
}

/** `--dns-listen IP:PORT` (`[::1]:53` for IPv6; port 0 picks one). */
export function parseDnsListen(v: string | undefined): { host: string; port: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  const host = m ? (m[1] ?? m[2]) : undefined;
  const port = m ? Number(m[3]) : NaN;
  if (!host || !(port <= 65535)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--dns-listen must be IP:PORT (127.0.0.1:8600, [::1]:53), got ${JSON.stringify(v)}`, 2);
  try {
    checkDnsSettings({ host });
  } catch (err) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `--dns-listen: ${(err as Error).message}`, 2);
  }
  return { host, port };
}

/** The line `weft control` prints once DNS listens. */
export function dnsListeningLine(host: string, port: number): string {
  return `weft DNS listening on ${host.includes(':') ? `[${host}]` : host}:${port} (udp, tcp)\n`;
}
