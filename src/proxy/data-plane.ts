// The part of a sidecar that carries traffic: service table, connection pools, outbound and inbound
// listeners, mutual TLS settings and their metrics. The main thread runs one; with --workers N,
// each extra worker thread runs another on the same ports (SO_REUSEPORT), fed the same snapshots
// and certificates.

import type { MtlsMode, NodeInfo, ProxySnapshot } from '../config/snapshot-types.ts';
import { createWatch } from '../lib/watch.ts';
import { ServiceTable, type PortBalancerStats } from './balance/service-table.ts';
import { UpstreamPool } from './transport/upstream-pool.ts';
import { startOutboundListener } from './outbound/outbound-listener.ts';
import { startInboundListener } from './inbound/inbound-listener.ts';
import { createProxyMetrics, type ProxyMetrics } from './admin/proxy-metrics.ts';
import type { InboundTls, Listener } from './transport/listener.ts';
import { createMeshTls, restrictToTrustDomain, trustDomainOf, type Credentials, type MeshTls } from './transport/mesh-tls.ts';
import { createInboundChain } from './filters/inbound-chain.ts';
import type { InboundFilter } from './filters/inbound-filter.ts';
import { JwksCache } from './filters/jwt-authn/jwks-cache.ts';
import { createAdaptiveConcurrency } from './filters/adaptive-concurrency/adaptive-concurrency-filter.ts';
import { startTcpUpstream, type TcpUpstream, type TcpUpstreamListener } from './tcp/tcp-outbound.ts';
import { handleInboundTcp } from './tcp/tcp-inbound.ts';
import { createTcpAuthorizer, type TcpAuthorizer } from './tcp/tcp-authz.ts';
import { RateLimits } from './filters/rate-limit/rate-limits.ts';
import { Observer } from './observe/observer.ts';
import { createLogger } from '../lib/log.ts';
import { DEFAULT_BACKEND_POLICY } from '../config/kinds/backend-policy.ts';
import { DEFAULT_PRECONNECT, preconnect, preconnectTargets, type PreconnectResult, type PreconnectSettings } from './transport/preconnect.ts';

/** The inbound side connects to its app with this timeout (http/inbound-handler.ts INBOUND_POLICY). */
const APP_CONNECT_MS = 1_000;

export interface DataPlaneOptions {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly bindHost: string;
  readonly outboundPort: number;
  /** Absent: a client-only sidecar, no inbound listener. */
  readonly inboundPort?: number;
  readonly appHost: string;
  readonly appPort?: number;
  /** `tcp`: the app speaks TCP, and every connection to the inbound port is piped to it as bytes. Default `http`. */
  readonly appProtocol?: 'http' | 'tcp';
  /** Local listeners for upstream TCP service ports (`--tcp-upstream`); workers get the bound ports. */
  readonly tcpUpstreams?: readonly TcpUpstream[];
  /** Share the ports with other data planes (worker threads). */
  readonly reusePort: boolean;
  /** 0 for the main thread; labels this data plane's accepted connections. */
  readonly worker: number;
  /** Pooled connections opened to the endpoints this sidecar calls when a snapshot is applied. Default DEFAULT_PRECONNECT. */
  readonly preconnect?: PreconnectSettings;
  /** 48 bytes: the inbound side's session-ticket keys, the same on every thread of the sidecar. Absent: each tls.Server makes its own. */
  readonly ticketKeys?: Uint8Array;
}

export interface DataPlane {
  readonly outboundPort: number;
  readonly inboundPort: number | undefined;
  /** The TCP upstream listeners, with the ports they bound. */
  readonly tcpUpstreams: readonly { readonly upstream: TcpUpstream; readonly host: string; readonly port: number }[];
  readonly metrics: ProxyMetrics;
  /** This data plane's fate records, access log and tracing (observe/). */
  readonly observer: Observer;
  /** The service table in force (undefined before the first snapshot): the balancers, for scrape-time gauges. */
  serviceTable(): ServiceTable | undefined;
  /** Each service port's endpoints as this data plane's balancers see them (ejections, slow start). */
  endpointStats(): PortBalancerStats[];
  /** Puts a snapshot in force; throws if it cannot (the proxy NACKs it). Then pre-connects to new endpoints (see warming). */
  apply(snapshot: ProxySnapshot): void;
  /** The pre-connect the latest apply started (resolved at once when there was nothing to open). */
  warming(): Promise<PreconnectResult>;
  /** A new certificate: new connections (both ways) use it; open ones keep theirs. */
  setCredentials(credentials: Credentials): void;
  /** Stops accepting; open connections finish their requests. */
  close(): Promise<void>;
  /** Closes every connection and pool now. */
  destroy(): void;
}

export async function startDataPlane(o: DataPlaneOptions): Promise<DataPlane> {
  const metrics = createProxyMetrics(o.worker);
  const pool = new UpstreamPool();
  const inboundPool = new UpstreamPool();
  const table = createWatch<ServiceTable | undefined>(undefined);
  // The sidecar's own labels carry its locality (--region/--zone): its calls prefer endpoints near it.
  const serviceTable = new ServiceTable(undefined, { labels: o.node.labels, requests: metrics.localityRequests }, metrics);
  let allowPassthrough = true;
  let meshTls: MeshTls | undefined;
  let mtlsMode: MtlsMode = 'PERMISSIVE';
  let inboundFilters: readonly InboundFilter[] | undefined;
  let tcpAuthorizer: TcpAuthorizer | undefined;
  const jwks = new JwksCache();
  const concurrency = createAdaptiveConcurrency({ service: `${o.node.service}.${o.node.namespace}`, worker: String(o.worker), metrics });
  // Outbound limits see this sidecar's own identity as the caller.
  const rateLimits = new RateLimits({ limited: metrics.rateLimited, redisErrors: metrics.rateLimitRedisErrors, checkSeconds: metrics.rateLimitCheck }, undefined, () => meshTls?.identity);
  const observer = new Observer({ node: o.node, proxyId: o.proxyId, log: createLogger(`observe[${o.proxyId}]`) });
  const inboundTls: InboundTls = {
    current: () => meshTls,
    strict: () => mtlsMode === 'STRICT',
    onConnection: (security) => metrics.inboundSecurity.inc({ security }),
    onHandshake: (resumed) => metrics.tlsHandshakes.inc({ side: 'server', resumed: resumed ? 'true' : 'false' }),
  };
  pool.onTlsHandshake = (resumed) => metrics.tlsHandshakes.inc({ side: 'client', resumed: resumed ? 'true' : 'false' });
  const preconnectSettings = o.preconnect ?? DEFAULT_PRECONNECT;
  let warming: Promise<PreconnectResult> = Promise.resolve({ opened: 0, failed: 0 });

  let outboundPort = 0;
  const outbound = await startOutboundListener(
    o.bindHost,
    o.outboundPort,
    { node: o.node, proxyId: o.proxyId, table, pool, metrics, allowPassthrough: () => allowPassthrough, ownPort: () => outboundPort, rateLimits, observer, identity: () => meshTls?.identity },
    { reusePort: o.reusePort },
  );
  outboundPort = outbound.port;
  let inbound: Listener | undefined;
  const tcpUpstreams: TcpUpstreamListener[] = [];
  const appIsTcp = o.appProtocol === 'tcp';
  try {
    if (o.appPort !== undefined && o.inboundPort !== undefined) {
      const appPort = o.appPort;
      const tcp = { destination: `${o.node.service}.${o.node.namespace}`, appHost: o.appHost, appPort, appIsTcp, authorizer: () => tcpAuthorizer, metrics };
      inbound = await startInboundListener(
        o.bindHost,
        o.inboundPort,
        { node: o.node, proxyId: o.proxyId, appHost: o.appHost, appPort, pool: inboundPool, metrics, tls: inboundTls.current, filters: () => inboundFilters, concurrency, observer },
        { reusePort: o.reusePort, tls: inboundTls },
        { tcp: (socket, peer) => handleInboundTcp(socket, peer, tcp), rawTcp: () => appIsTcp },
      );
    }
    const tcpDeps = { table, tls: () => meshTls, metrics, namespace: o.node.namespace, tlsSessions: pool.tlsSessions, onTlsHandshake: pool.onTlsHandshake };
    for (const upstream of o.tcpUpstreams ?? []) tcpUpstreams.push(await startTcpUpstream(upstream, o.bindHost, tcpDeps, o.reusePort));
  } catch (err) {
    // A half-started data plane must not keep the ports it got.
    outbound.destroy();
    inbound?.destroy();
    for (const l of tcpUpstreams) l.destroy();
    throw err;
  }

  return {
    outboundPort: outbound.port,
    inboundPort: inbound?.port,
    tcpUpstreams: tcpUpstreams.map((l) => ({ upstream: l.upstream, host: l.host, port: l.port })),
    metrics,
    observer,
    serviceTable: () => table.get(),
    endpointStats: () => serviceTable.endpointStats(),
    apply(snapshot) {
      observer.apply(snapshot.observability);
      // Endpoints are dialed only under identities of this sidecar's own trust domain.
      const trustDomain = trustDomainOf(meshTls?.identity);
      const dialable = trustDomain ? restrictToTrustDomain(snapshot, trustDomain) : snapshot;
      serviceTable.update(dialable);
      allowPassthrough = snapshot.outboundTrafficPolicy !== 'REGISTRY_ONLY';
      mtlsMode = snapshot.mtlsMode ?? 'PERMISSIVE';
      // The policies of this sidecar's own service, compiled once per snapshot. Default deny is set on
      // every service, so it holds even before this sidecar's own service is in the snapshot.
      const own = snapshot.services.find((s) => s.name === o.node.service && s.namespace === o.node.namespace);
      const defaultDeny = (own ?? snapshot.services[0])?.authorizationDefault === 'DENY';
      // A client-only sidecar has no inbound side: nothing to check, no JWKS to fetch.
      if (inbound) inboundFilters = createInboundChain({ own, defaultDeny, jwks, audits: metrics.authzAudits });
      // BackendPolicy adaptiveConcurrency of this sidecar's own service: enforced here, in front of the app.
      if (inbound && !appIsTcp) concurrency.update(own?.policy.adaptiveConcurrency);
      rateLimits.update(snapshot.services, inbound ? own : undefined);
      if (inbound) inboundFilters = createInboundChain({ own, defaultDeny, jwks, audits: metrics.authzAudits, rateLimits: rateLimits.inbound });
      // The same policies, judged per connection for TCP (their L4 fields only; see tcp-authz.ts).
      if (inbound && o.appPort !== undefined) tcpAuthorizer = createTcpAuthorizer(own?.authorization, defaultDeny, o.appPort);
      pool.retain(serviceTable.endpointKeys());
      table.set(serviceTable);
      if (preconnectSettings.perEndpoint > 0 && preconnectSettings.maxEndpoints > 0) {
        // Endpoints with connections already are left as they are: only a new endpoint (a scale-up, a fresh sidecar) is warmed.
        const targets = preconnectTargets(dialable, o.node, preconnectSettings.maxEndpoints, (address, port) => pool.h1OpenCount([{ address, port }]) > 0);
        // The inbound side's own app too (plaintext, on this host): the first calls to this sidecar find it connected.
        const app = inbound && !appIsTcp && o.appPort !== undefined && inboundPool.h1OpenCount([{ address: o.appHost, port: o.appPort }]) === 0
          ? [{ address: o.appHost, port: o.appPort, identity: undefined, connectMs: APP_CONNECT_MS, idleMs: DEFAULT_BACKEND_POLICY.timeouts.idleMs }]
          : [];
        if (targets.length + app.length > 0) {
          warming = Promise.all([preconnect(pool, targets, preconnectSettings.perEndpoint, meshTls), preconnect(inboundPool, app, preconnectSettings.perEndpoint, undefined)]).then(([out, own]) => {
            const r = { opened: out.opened + own.opened, failed: out.failed + own.failed };
            if (r.opened > 0) metrics.preconnections.inc({ result: 'opened' }, r.opened);
            if (r.failed > 0) metrics.preconnections.inc({ result: 'failed' }, r.failed);
            return r;
          });
        }
      }
    },
    warming: () => warming,
    setCredentials(credentials) {
      meshTls = createMeshTls(credentials, o.ticketKeys);
      pool.tls = meshTls;
    },
    async close() {
      await Promise.all([outbound.close(), inbound?.close(), ...tcpUpstreams.map((l) => l.close())]);
    },
    destroy() {
      jwks.close();
      concurrency.close();
      rateLimits.close();
      observer.close();
      outbound.destroy();
      inbound?.destroy();
      for (const l of tcpUpstreams) l.destroy();
      pool.close();
      inboundPool.close();
    },
  };
}
