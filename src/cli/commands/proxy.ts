// `weft proxy`: runs a sidecar until SIGINT/SIGTERM, then deregisters, drains and exits.

import os from 'node:os';
import { startProxy } from '../../proxy/proxy.ts';
import { WeftError } from '../../lib/errors.ts';
import { parseTcpUpstream } from '../../proxy/tcp/tcp-outbound.ts';
import { JOIN_TOKEN_ENV } from '../../config/control-auth.ts';
import { parseControlUrls } from '../../proxy/discovery/control-target.ts';
import { REGION_LABEL, ZONE_LABEL } from '../../config/kinds/backend-policy-locality.ts';
import { controlOption, controlUrl, int, labelsOption, parseCommand, str, token, type Command } from '../command.ts';

export const proxyOptions = {
  ...controlOption,
  'join-token': { type: 'string' },
  service: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  labels: { type: 'string' },
  region: { type: 'string' },
  zone: { type: 'string' },
  upstreams: { type: 'string' },
  id: { type: 'string' },
  'app-port': { type: 'string' },
  'app-host': { type: 'string' },
  'app-protocol': { type: 'string' },
  'tcp-upstream': { type: 'string', multiple: true },
  'inbound-port': { type: 'string' },
  'outbound-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'advertise-address': { type: 'string' },
  weight: { type: 'string' },
  'ttl-seconds': { type: 'string' },
  'health-path': { type: 'string' },
  'health-check': { type: 'string' },
  'health-grpc-service': { type: 'string' },
  'health-host-header': { type: 'string' },
  'health-interval-ms': { type: 'string' },
  'health-timeout-ms': { type: 'string' },
  'health-jitter-percent': { type: 'string' },
  'health-healthy-threshold': { type: 'string' },
  'health-unhealthy-threshold': { type: 'string' },
  'drain-ms': { type: 'string' },
  workers: { type: 'string' },
  'stats-interval-ms': { type: 'string' },
  preconnect: { type: 'string' },
  'preconnect-endpoints': { type: 'string' },
  'preconnect-timeout-ms': { type: 'string' },
} as const;

export const proxyFlagsHelp = `  --control URL[,URL…]     control plane API (or WEFT_CONTROL; default http://127.0.0.1:7700);
                           several replicas' URLs, comma-separated: the first is tried first,
                           and when its stream is lost the sidecar moves to the next (one name
                           that resolves to several addresses counts as one URL per address)
  --join-token TOKEN       join token for this service and namespace (or WEFT_JOIN_TOKEN), from
                           weft token create --service NAME: gets the first certificate; after
                           that the sidecar authenticates with its certificate
  --token TOKEN            an admin token instead of a join token (or WEFT_TOKEN)
  --id ID                  this instance's id (default SERVICE-<random>)
  --service NAME           the service this sidecar belongs to (required)
  --namespace NS           its namespace (default "default")
  --labels k=v,...         instance labels, e.g. version=v2,tier=gold
  --region R               this instance's region: sets the label topology.kubernetes.io/region
                           and tells the sidecar where it is, so its calls prefer its region
  --zone Z                 this instance's zone (topology.kubernetes.io/zone): calls prefer
                           endpoints in the same zone, then the same region, then the rest
  --upstreams a,b.ns       services this app calls (default: all); narrows its snapshot
  --app-port N             the local app's port; omit for a client-only sidecar
  --app-host HOST          where the local app listens (default 127.0.0.1)
  --app-protocol http|tcp  what the app speaks (default http); tcp: connections to the inbound
                           port are piped to the app as bytes, registered as one tcp port
                           numbered as --app-port
  --tcp-upstream NAME[.NS]:PORT=[HOST:]LOCAL_PORT
                           a TCP service port the app reaches on a local port (repeatable;
                           LOCAL_PORT 0 = any, shown in the ready line and /config), e.g.
                           redis:6379=16379: each connection is balanced (and split by a
                           TCPRoute) and carried in mutual TLS to the chosen instance
  --advertise-address A    address other sidecars use to reach the inbound listener
  --inbound-port N         where other sidecars reach this instance (default 15006; 0 = any)
  --outbound-port N        where the app sends its calls, HTTP_PROXY (default 15001; 0 = any)
  --admin-port N           /ready, /metrics, /config, /app-health (default 15000; 0 = any)
  --health-check http|tcp|grpc
                           this sidecar checks its own app and reports up its stream (the
                           control plane does not probe it): http GETs --health-path (healthy:
                           200-399), tcp opens a connection, grpc calls grpc.health.v1.Health/Check
                           (healthy: SERVING); default http when --health-path is given
  --health-path PATH       the app path an http check GETs (also served as admin /app-health)
  --health-grpc-service S  the service name a grpc check asks about (default "": the whole server)
  --health-host-header H   the Host header of an http check (default the app's host:port)
  --health-interval-ms N   time between checks (default 2000)
  --health-timeout-ms N    a check slower than this fails (default 1000)
  --health-jitter-percent N  up to N% of the interval added at random to each wait (default 0)
  --health-healthy-threshold N    passes in a row before healthy again (default 1)
  --health-unhealthy-threshold N  failures in a row before critical (default 1)
  --weight N               load-balancing weight (default 1)
  --ttl-seconds N          heartbeat TTL (default 15)
  --drain-ms N             wait between deregistering and closing (default 1500)
  --workers N|auto         threads carrying traffic, sharing the listener ports (default 1;
                           auto = one per CPU). Config, registration and admin stay on one.
  --stats-interval-ms N    how often golden signals (requests, successes, latency per edge) go
                           up the stream to the control plane (default 5000)
  --preconnect N           pooled connections (mutual TLS included) opened to each endpoint of the
                           services it calls when config arrives, before it reports ready
                           (default 2; 0 = off): a fresh sidecar's first requests find them open
  --preconnect-endpoints N endpoints warmed per config update at most (default 16)
  --preconnect-timeout-ms N  readiness waits for the first pre-connect at most this long
                           (default 1000): an unreachable endpoint does not hold it`;

const MAX_WORKERS = 64;

/** --stats-interval-ms: how often golden signals go up the stream; 100 ms to 1 h. */
function statsIntervalOption(p: Parameters<typeof str>[0]): number | undefined {
  const v = int(p, 'stats-interval-ms');
  if (v !== undefined && !(v >= 100 && v <= 3_600_000)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--stats-interval-ms must be from 100 to 3600000, got ${v}`, 2);
  return v;
}

/** --workers: a whole number from 1 to 64, or auto (one per CPU this process may use). */
function workersOption(p: Parameters<typeof str>[0]): number | undefined {
  const v = str(p, 'workers');
  if (v === undefined) return undefined;
  if (v === 'auto') return Math.min(MAX_WORKERS, os.availableParallelism());
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--workers must be a whole number from 1 to ${MAX_WORKERS} or "auto", got ${JSON.stringify(v)}`, 2);
  return n;
}

/** --preconnect, --preconnect-endpoints, --preconnect-timeout-ms: whole numbers (0 turns the first two off). */
function preconnectOption(p: Parameters<typeof str>[0]): { perEndpoint?: number; maxEndpoints?: number; timeoutMs?: number } {
  const out: { perEndpoint?: number; maxEndpoints?: number; timeoutMs?: number } = {};
  const flags = [['preconnect', 'perEndpoint', 64], ['preconnect-endpoints', 'maxEndpoints', 10_000], ['preconnect-timeout-ms', 'timeoutMs', 60_000]] as const;
  for (const [flag, field, max] of flags) {
    const v = int(p, flag);
    if (v === undefined) continue;
    if (!(v >= 0 && v <= max)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--${flag} must be from 0 to ${max}, got ${v}`, 2);
    out[field] = v;
  }
  return out;
}

/** --app-protocol: http (default) or tcp. */
function appProtocolOption(p: Parameters<typeof str>[0]): 'http' | 'tcp' | undefined {
  const v = str(p, 'app-protocol');
  if (v === undefined || v === 'http' || v === 'tcp') return v;
  throw new WeftError('WEFT_ERR_CLI_USAGE', `--app-protocol must be http or tcp, got ${JSON.stringify(v)}`, 2);
}

// A Kubernetes label value: what the catalog accepts for the topology labels.
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * --labels plus --region/--zone as the well-known topology labels; the flags win over the same
 * keys in --labels. The sidecar both registers these labels and reads its own locality from them.
 */
function labelsWithLocality(p: Parameters<typeof str>[0]): Record<string, string> {
  const labels = labelsOption(p, 'labels');
  for (const [flag, key] of [['region', REGION_LABEL], ['zone', ZONE_LABEL]] as const) {
    const v = str(p, flag);
    if (v === undefined) continue;
    if (!LABEL_VALUE.test(v)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--${flag} must be a label value (letters, digits, -, _ or ., starting and ending with a letter or digit, at most 63), got ${JSON.stringify(v)}`, 2);
    labels[key] = v;
  }
  return labels;
}

/** --tcp-upstream, repeatable; each value parsed (a service port and where it is reachable locally). */
function tcpUpstreamsOption(p: Parameters<typeof str>[0]) {
  const raw = p.values['tcp-upstream'];
  const values = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
  return values.map(parseTcpUpstream);
}

/** The --health-* flags but --health-path (which alone means an http check): checked by startProxy, with field names. */
function healthCheckOption(p: Parameters<typeof str>[0]) {
  const input = {
    type: str(p, 'health-check'),
    serviceName: str(p, 'health-grpc-service'),
    hostHeader: str(p, 'health-host-header'),
    intervalMs: int(p, 'health-interval-ms'),
    timeoutMs: int(p, 'health-timeout-ms'),
    intervalJitterPercent: int(p, 'health-jitter-percent'),
    healthyThreshold: int(p, 'health-healthy-threshold'),
    unhealthyThreshold: int(p, 'health-unhealthy-threshold'),
  };
  const given = Object.entries(input).filter(([, v]) => v !== undefined);
  if (given.length === 0) return undefined;
  if (input.type === undefined && str(p, 'health-path') === undefined) throw new WeftError('WEFT_ERR_CLI_USAGE', '--health-* flags need --health-check TYPE (or --health-path PATH for an http check)', 2);
  return Object.fromEntries(given);
}

export function proxyOptionsFrom(p: Parameters<typeof str>[0]) {
  const upstreams = str(p, 'upstreams');
  return {
    controlUrl: checkedControl(controlUrl(p)),
    token: token(p),
    joinToken: str(p, 'join-token') ?? (process.env[JOIN_TOKEN_ENV] || undefined),
    service: str(p, 'service') ?? '',
    namespace: str(p, 'namespace'),
    labels: labelsWithLocality(p),
    upstreams: upstreams ? upstreams.split(',').map((s) => s.trim()).filter(Boolean) : [],
    id: str(p, 'id'),
    appPort: int(p, 'app-port'),
    appHost: str(p, 'app-host'),
    appProtocol: appProtocolOption(p),
    tcpUpstreams: tcpUpstreamsOption(p),
    inboundPort: int(p, 'inbound-port'),
    outboundPort: int(p, 'outbound-port'),
    adminPort: int(p, 'admin-port'),
    advertiseAddress: str(p, 'advertise-address'),
    weight: int(p, 'weight'),
    ttlSeconds: int(p, 'ttl-seconds'),
    healthPath: str(p, 'health-path'),
    healthCheck: healthCheckOption(p),
    drainMs: int(p, 'drain-ms'),
    workers: workersOption(p),
    statsIntervalMs: statsIntervalOption(p),
    preconnect: preconnectOption(p),
  };
}

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'Run a sidecar proxy beside one service instance.',
  usage: `Usage: weft proxy --service NAME [--app-port N] [options]\n\n${proxyFlagsHelp}\n\nOn start it prints one JSON line with the ports it listens on.`,
  async run(argv) {
    const p = parseCommand(this, argv, proxyOptions);
    if (!p) return 0;
    const opts = proxyOptionsFrom(p);
    if (!opts.service) throw new WeftError('WEFT_ERR_CLI_USAGE', `--service is required\n\n${this.usage}`, 2);
    const proxy = await startProxy(opts);
    process.stdout.write(JSON.stringify({ event: 'ready-to-serve', id: proxy.id, inboundPort: proxy.inboundPort, outboundPort: proxy.outboundPort, adminPort: proxy.adminPort, ...(Object.keys(proxy.tcpUpstreams).length > 0 && { tcpUpstreams: proxy.tcpUpstreams }) }) + '\n');
    await new Promise<void>((resolve) => {
      const stop = (): void => void proxy.stop().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};

/** `--control`, one URL or several comma-separated; a malformed one is a usage error (exit 2). */
function checkedControl(text: string): string {
  try {
    parseControlUrls(text);
  } catch (err) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', (err as Error).message, 2);
  }
  return text;
}
