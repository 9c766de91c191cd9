// The client side of TCP through the mesh (Consul Connect's `upstreams` with `local_bind_port`): one
// local listener per upstream TCP service port; each connection accepted there follows the port's
// TCPRoute (a weighted pick of a backend Service) or the port itself, picks an endpoint through that
// port's balancer, dials it in mutual TLS (ALPN `weft-tcp`, the endpoint's SPIFFE ID checked) and pipes.

import net from 'node:net';
import type { Watch } from '../../lib/watch.ts';
import { WeftError } from '../../lib/errors.ts';
import type { RouteBackendSnapshot, TcpRouteSnapshot } from '../../config/snapshot-types.ts';
import type { ServicePortEntry, ServiceTable } from '../balance/service-table.ts';
import { dialEndpoint, WEFT_TCP_ALPN, type MeshTls } from '../transport/mesh-tls.ts';
import { TlsSessionCache } from '../transport/tls-session-cache.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import { pipeSockets, resetSocket } from './tcp-pipe.ts';

/** Endpoints tried for one connection: a refused connect picks again, elsewhere. */
const MAX_CONNECT_ATTEMPTS = 3;

/** `--tcp-upstream NAME[.NAMESPACE]:PORT=[HOST:]LOCAL_PORT`: a service port reachable on a local port. */
export interface TcpUpstream {
  readonly service: string;
  /** Absent: the sidecar's own namespace. */
  readonly namespace?: string;
  /** The Service port (as the Service declares it). */
  readonly port: number;
  /** Where the local listener binds; absent: the sidecar's bind host. */
  readonly bindHost?: string;
  /** 0: any free port (shown in /config and in the ready line). */
  readonly localPort: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Parses one `--tcp-upstream` value, e.g. `redis:6379=16379`, `redis.cache:6379=127.0.0.1:16379`.
 * Throws WEFT_ERR_CLI_USAGE (exit status 2) naming what is wrong.
 */
export function parseTcpUpstream(value: string): TcpUpstream {
  const m = /^([^:=]+):(\d{1,5})=(?:(.+):)?(\d{1,5})$/.exec(value.trim());
  const usage = (why: string): WeftError => new WeftError('WEFT_ERR_CLI_USAGE', `--tcp-upstream ${JSON.stringify(value)}: ${why} (expected NAME[.NAMESPACE]:PORT=[HOST:]LOCAL_PORT, e.g. redis:6379=16379)`, 2);
  if (!m) throw usage('not understood');
  const [name, namespace, ...rest] = m[1]!.split('.');
  if (rest.length > 0 || !DNS_LABEL.test(name!) || (namespace !== undefined && !DNS_LABEL.test(namespace))) throw usage('the service must be NAME or NAME.NAMESPACE (DNS labels)');
  const port = Number(m[2]);
  const localPort = Number(m[4]);
  if (port < 1 || port > 65535) throw usage('the service port must be 1 to 65535');
  if (localPort > 65535) throw usage('the local port must be 0 to 65535');
  return { service: name!, port, localPort, ...(namespace !== undefined && { namespace }), ...(m[3] !== undefined && { bindHost: m[3] }) };
}

export interface TcpOutboundDeps {
  readonly table: Watch<ServiceTable | undefined>;
  /** This sidecar's certificate; undefined until the CA issued one. */
  readonly tls: () => MeshTls | undefined;
  readonly metrics: ProxyMetrics;
  /** The sidecar's namespace, for upstreams written without one. */
  readonly namespace: string;
  readonly random?: () => number;
  /** TLS sessions to resume (the data plane's, kept apart from HTTP's by key); absent: a full handshake each time. */
  readonly tlsSessions?: TlsSessionCache;
  /** Each client mutual-TLS handshake: resumed or full (weft_proxy_tls_handshakes_total). */
  readonly onTlsHandshake?: (resumed: boolean) => void;
}

/** Why a connection was closed before any byte reached a backend: `weft_proxy_tcp_connections_total{result}`. */
export type TcpRefusal = 'no-service' | 'no-backend' | 'no-endpoints' | 'no-certificate' | 'connect-failed';

/** A route's backend picked by weight (Gateway API weights: proportional; 0 never). Undefined when all weigh 0. */
export function pickBackend(backends: readonly RouteBackendSnapshot[], random: () => number): RouteBackendSnapshot | undefined {
  let total = 0;
  for (const b of backends) total += b.weight;
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const b of backends) {
    if (b.weight <= 0) continue;
    if (r < b.weight) return b;
    r -= b.weight;
  }
  return backends.findLast((b) => b.weight > 0);
}

/** The TCPRoute in force for a service port: the first (oldest) attached to that port or to every port. */
export function tcpRouteFor(routes: readonly TcpRouteSnapshot[] | undefined, port: number): TcpRouteSnapshot | undefined {
  return routes?.find((r) => r.port === undefined || r.port === port);
}

type Target = { kind: 'port'; entry: ServicePortEntry; route?: string } | { kind: 'refuse'; result: TcpRefusal; destination: string };

/** Where one connection to `upstream` goes now: a service port (via the TCPRoute's split, if any), or why not. */
export function resolveTarget(table: ServiceTable | undefined, upstream: TcpUpstream, namespace: string, random: () => number): Target {
  const ns = upstream.namespace ?? namespace;
  const destination = `${upstream.service}.${ns}`;
  const entry = table?.lookup(upstream.service, ns)?.ports.get(upstream.port);
  if (!table || !entry) return { kind: 'refuse', result: 'no-service', destination };
  const route = tcpRouteFor(entry.service.tcpRoutes, upstream.port);
  if (!route) return { kind: 'port', entry };
  const backend = pickBackend(route.backends, random);
  // An unresolved backend's share of connections is refused, as an HTTPRoute's gets 500.
  if (!backend?.service) return { kind: 'refuse', result: 'no-backend', destination };
  const target = table.lookup(backend.service.name, backend.service.namespace)?.ports.get(backend.service.port ?? upstream.port);
  if (!target) return { kind: 'refuse', result: 'no-backend', destination: `${backend.service.name}.${backend.service.namespace}` };
  return { kind: 'port', entry: target, route: route.name };
}

function serviceName(entry: ServicePortEntry): string {
  return `${entry.service.name}.${entry.service.namespace}`;
}

/** One accepted app connection: resolve, pick, dial (retrying refused connects elsewhere), pipe. */
export function handleOutboundTcp(client: net.Socket, upstream: TcpUpstream, deps: TcpOutboundDeps): void {
  client.allowHalfOpen = true;
  client.setNoDelay(true);
  // Bytes the app sends before the backend is connected wait in the socket (paused).
  client.pause();
  const early = (): void => {};
  client.on('error', early);
  const { metrics } = deps;
  const refuse = (result: TcpRefusal, destination: string, security = 'none'): void => {
    metrics.tcpConnections.inc({ direction: 'outbound', destination_service: destination, security, result });
    resetSocket(client);
  };
  const target = resolveTarget(deps.table.get(), upstream, deps.namespace, deps.random ?? Math.random);
  if (target.kind === 'refuse') return refuse(target.result, target.destination);
  const entry = target.entry;
  const destination = serviceName(entry);
  const tried = new Set<string>();
  const attempt = (): void => {
    if (client.destroyed) return;
    const pick = entry.balancer.picker().pick(tried.size ? { exclude: tried } : undefined);
    if (pick.kind === 'fail') return refuse(tried.size ? 'connect-failed' : 'no-endpoints', destination);
    const endpoint = pick.endpoint;
    tried.add(endpoint.id);
    const mesh = endpoint.identity !== undefined ? deps.tls() : undefined;
    if (endpoint.identity !== undefined && !mesh) {
      pick.done({ ok: false, latencyMs: 0 });
      return refuse('no-certificate', destination);
    }
    const started = performance.now();
    const { socket, ready } = dialEndpoint({
      host: endpoint.address,
      port: endpoint.port,
      ...(mesh && endpoint.identity !== undefined && { tls: { context: mesh.context, identity: endpoint.identity, alpn: WEFT_TCP_ALPN } }),
      ...(deps.tlsSessions && endpoint.identity !== undefined && { resumption: { sessions: deps.tlsSessions, key: `${TlsSessionCache.key(endpoint.address, endpoint.port, endpoint.identity)}|tcp`, onHandshake: deps.onTlsHandshake } }),
    });
    socket.allowHalfOpen = true;
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), entry.policy.timeouts.connectMs);
    const failed = (): void => {
      clearTimeout(timer);
      socket.destroy();
      pick.done({ ok: false, connectFailure: true, latencyMs: performance.now() - started });
      if (tried.size < MAX_CONNECT_ATTEMPTS) attempt();
      else refuse('connect-failed', destination);
    };
    socket.once('error', failed);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off('error', failed);
      client.off('error', early);
      if (client.destroyed) {
        // The app gave up while the dial was in flight: nothing to carry.
        socket.destroy();
        pick.done({ ok: true, latencyMs: performance.now() - started });
        return;
      }
      // peak-ewma scores a connection by its time to connect (headMs), not by how long it stays open.
      const connectMs = performance.now() - started;
      const security = mesh ? 'mtls' : 'plaintext';
      metrics.tcpConnections.inc({ direction: 'outbound', destination_service: destination, security, result: 'established' });
      pipeSockets(client, socket, (r) => {
        metrics.tcpBytes.inc({ direction: 'outbound', destination_service: destination, flow: 'sent' }, r.sent);
        metrics.tcpBytes.inc({ direction: 'outbound', destination_service: destination, flow: 'received' }, r.received);
        // A connection that ended in a reset still reached the endpoint: not a balancer failure.
        pick.done({ ok: true, latencyMs: performance.now() - started, headMs: connectMs });
      });
    });
  };
  attempt();
}

export interface TcpUpstreamListener {
  readonly upstream: TcpUpstream;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
  destroy(): void;
}

/** Binds one upstream's local listener (`reusePort` when worker threads share it). */
export async function startTcpUpstream(upstream: TcpUpstream, bindHost: string, deps: TcpOutboundDeps, reusePort = false): Promise<TcpUpstreamListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handleOutboundTcp(socket, upstream, deps);
  });
  const host = upstream.bindHost ?? bindHost;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: upstream.localPort, reusePort }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    upstream,
    host,
    port: (server.address() as net.AddressInfo).port,
    // Open connections carry on until their ends close them.
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    destroy: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
