// The outbound path: the app's request (absolute-form via HTTP_PROXY, or origin-form with a mesh
// Host) names a service; this resolves it in the service table and forwards through its balancer.
// Hosts that are not mesh services pass through to their real address unless the mesh says not to.

import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { parseMeshHost, type MeshHost } from '../../config/mesh-host.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import { backendRetryPolicy } from '../resilience/retry/retry-policy.ts';
import { RetryBudgets, type RetryBudget } from '../resilience/retry/budget.ts';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import type { Watch } from '../../lib/watch.ts';
import type { ServicePortEntry, ServiceTable } from '../balance/service-table.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { forwardRequest, type AnyRequest, type AnyResponse, type RetryReason } from './forward.ts';
import { rawLocalReply, sendBodylessReply, sendGrpcReply, sendLocalReply, sendRedirect, type LocalReplyReason } from './local-reply.ts';
import { staticPicker } from '../balance/static-picker.ts';
import { createRequestRecorder } from './request-metrics.ts';
import { routeRequest, type RouteDecision } from '../routing/route-request.ts';
import { startMirror, type MirrorTee } from '../filters/request-mirror/mirror.ts';
import { parsedContentLength } from './headers.ts';
import { requestedUpgrade, upgradeEventResponse } from './upgrade.ts';
import { hostError, requestTarget } from './request-target.ts';
import type { CircuitLimit } from '../resilience/circuit-breaker/circuit-breaker.ts';
import type { RateLimits } from '../filters/rate-limit/rate-limits.ts';
import { checkLimits, type Denial, type PolicyLimiter } from '../filters/rate-limit/policy-limiter.ts';
import { denialReply } from '../filters/rate-limit/rate-limit-filter.ts';
import type { FateRecord } from '../observe/fate.ts';
import type { Observer } from '../observe/observer.ts';
import type { HashPolicy } from '../balance/hashing/hash-policy.ts';

export interface OutboundDeps {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly table: Watch<ServiceTable | undefined>;
  readonly pool: UpstreamPool;
  readonly metrics: ProxyMetrics;
  /** Whether hosts outside the mesh may be reached directly (MeshConfig outboundTrafficPolicy). */
  readonly allowPassthrough: () => boolean;
  /** The outbound listener's own port: a passthrough to it would loop forever. */
  readonly ownPort: () => number;
  /** The outbound RateLimitPolicies in force, by destination Service; absent: none. */
  readonly rateLimits?: RateLimits;
  /** Opens and closes each request's fate record (observe/observer.ts): request id, trace, rings, logs. */
  readonly observer: Observer;
  /** This sidecar's own SPIFFE id once it holds a certificate: the fate's source identity. */
  readonly identity?: () => string | undefined;
}

/**
 * ring-hash/maglev: the request's hash key under the backend's hashPolicy, and the response edit
 * that adds a cookie the proxy generated (after the route's own edit, if any).
 */
function hashOf(policy: HashPolicy, req: AnyRequest, path: string, edit: ((fields: readonly string[]) => string[]) | undefined): { hashKey: number | undefined; editResponse: ((fields: readonly string[]) => string[]) | undefined } {
  const h = policy.hash(req, path);
  if (h === undefined || typeof h === 'number') return { hashKey: h, editResponse: edit };
  const setCookie = h.setCookie;
  if (setCookie === undefined) return { hashKey: h.key, editResponse: edit };
  return { hashKey: h.key, editResponse: (fields) => [...(edit === undefined ? fields : edit(fields)), 'set-cookie', setCookie] };
}

/** What requests to one destination Service report to, bound once (outbound-handler's sinksOf). */
interface DestinationSinks {
  readonly budget: RetryBudget;
  readonly onRetry: (reason: RetryReason) => void;
  readonly onBudgetExhausted: () => void;
  readonly onCircuitOpen: (limit: CircuitLimit) => void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0']);

/** `host[:port]` or `[v6]:port` → host and port (the default when absent); undefined if malformed. */
function splitAuthority(authority: string, defaultPort: number | undefined): { host: string; port: number } | undefined {
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > 0 && !authority.endsWith(']');
  const port = hasPort ? Number(authority.slice(colon + 1)) : defaultPort;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const host = (hasPort ? authority.slice(0, colon) : authority).replace(/^\[|\]$/g, '');
  return host ? { host, port } : undefined;
}

interface Resolved {
  readonly kind: 'mesh';
  readonly entry: ServicePortEntry;
  readonly authority: string;
  readonly path: string;
}
interface Passthrough {
  readonly kind: 'passthrough';
  readonly host: string;
  readonly port: number;
  readonly authority: string;
  readonly path: string;
}
type Resolution = Resolved | Passthrough | { readonly kind: 'error'; readonly status: number; readonly reason: LocalReplyReason; readonly message: string };

/**
 * The request's authority and origin-form path (request-target.ts): an absolute-form target names
 * the authority and wins over Host (RFC 9112 §3.2.2); otherwise Host or `:authority` names it.
 * A string says why the request is invalid (400), undefined that it names no host.
 */
function target(req: AnyRequest): { authority: string; path: string } | string | undefined {
  const t = requestTarget(req);
  if (typeof t === 'string') return t;
  if (t.authority !== undefined) return { authority: t.authority, path: t.path };
  const authority = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
  return authority ? { authority, path: t.path } : undefined;
}

export function createOutboundHandler(deps: OutboundDeps) {
  const { node, metrics } = deps;
  const source = node.service;
  /** A passthrough to this sidecar's own outbound listener would loop forever. */
  const isSelf = (host: string, port: number): boolean => LOOPBACK.has(host) && port === deps.ownPort();
  // The same for every request this handler forwards to a mesh service.
  const meshAddHeaders = { 'x-weft-source': `${source}.${node.namespace}` };

  // Parsed Host values, bounded: a client sends few distinct ones, a hostile one cannot grow it.
  const hostCache = new Map<string, MeshHost | null>();
  const meshHost = (authority: string): MeshHost | undefined => {
    let host = hostCache.get(authority);
    if (host === undefined) {
      host = parseMeshHost(authority) ?? null;
      if (hostCache.size >= 1024) hostCache.clear();
      hostCache.set(authority, host);
    }
    return host ?? undefined;
  };

  // Mesh routes by authority under the table in force (a new snapshot clears them): most requests
  // name one of a few hosts, and this skips parsing the host and the table lookup.
  const routes = new Map<string, { readonly entry: ServicePortEntry; readonly destination: string; readonly sinks: DestinationSinks }>();
  deps.table.subscribe(() => routes.clear());

  const resolve = (req: AnyRequest, t = target(req)): Resolution => {
    if (typeof t === 'string') return { kind: 'error', status: 400, reason: 'bad-request', message: `bad request target: ${t}` };
    if (!t) return { kind: 'error', status: 400, reason: 'bad-request', message: 'request names no host (absolute-form URL or Host header)' };
    // Checked here, where an authority is first seen: the route cache only ever holds valid ones.
    const badHost = hostError(t.authority);
    if (badHost !== undefined) return { kind: 'error', status: 400, reason: 'bad-request', message: `bad request target: ${badHost}` };
    const table = deps.table.get();
    if (!table) return { kind: 'error', status: 503, reason: 'no-snapshot', message: 'this sidecar has not received its configuration from the control plane yet' };
    const host = meshHost(t.authority);
    const service = host && table.lookup(host.name, host.namespace ?? node.namespace);
    if (!host || !service) {
      if (deps.allowPassthrough()) {
        const pass = splitAuthority(t.authority, 80);
        if (!pass) return { kind: 'error', status: 400, reason: 'bad-request', message: `${JSON.stringify(t.authority)} is not a valid host[:port]` };
        if (isSelf(pass.host, pass.port)) {
          return { kind: 'error', status: 400, reason: 'bad-request', message: `${t.authority} is this sidecar's own outbound listener; name a mesh service in the Host header or URL` };
        }
        return { kind: 'passthrough', host: pass.host, port: pass.port, authority: t.authority, path: t.path };
      }
      return { kind: 'error', status: 404, reason: 'unknown-service', message: `${t.authority} is not a service of the mesh (namespace ${host?.namespace ?? node.namespace}) and outbound traffic is registry-only` };
    }
    const entry = host.port === undefined ? service.defaultPort : service.ports.get(host.port);
    if (!entry) {
      const ports = [...service.ports.keys()].join(', ') || 'none';
      return { kind: 'error', status: 404, reason: 'unknown-port', message: `service ${service.service.name}.${service.service.namespace} has no port ${host.port ?? '(default)'}; its ports: ${ports}` };
    }
    return { kind: 'mesh', entry, authority: t.authority, path: t.path };
  };

  const recorder = createRequestRecorder(metrics, 'outbound');

  // One retry budget per destination Service in this data plane, kept across snapshots. What a
  // request to a destination reports to (retries, budget exhaustion, circuit-breaker refusals) is
  // bound once per destination and budget, not made per request.
  const budgets = new RetryBudgets();
  const sinks = new Map<string, DestinationSinks>();
  const sinksOf = (destination: string, policy: BackendPolicySpec): DestinationSinks => {
    const budget = budgets.of(destination, backendRetryPolicy(policy.retries).budget!);
    let s = sinks.get(destination);
    if (s === undefined || s.budget !== budget) {
      const retries = metrics.retries;
      const exhausted = metrics.retryBudgetExhausted.bind({ destination_service: destination });
      s = {
        budget,
        onRetry: (reason) => retries.inc({ destination_service: destination, reason }),
        onBudgetExhausted: () => exhausted.inc(),
        onCircuitOpen: (limit) => metrics.circuitRejections.inc({ destination_service: destination, limit }),
      };
      // Bounded by the Services of the mesh (and `passthrough`), like the metrics' labels.
      if (sinks.size >= 1024) sinks.clear();
      sinks.set(destination, s);
    }
    return s;
  };
  const record = (destination: string, fate: FateRecord) => (status: number, reason: LocalReplyReason | undefined, _attempts = 0, endedAt = performance.now()) => {
    recorder.record(source, destination, status, reason, (endedAt - fate.startedAt) / 1000);
    fate.destinationService = destination;
    deps.observer.end(fate, status, reason, endedAt);
  };
  const sourceService = `${source}.${node.namespace}`;

  const request = (req: AnyRequest, res: AnyResponse): void => {
    const started = performance.now();
    // The one request target of this request (authority and path): routing, the upstream and the
    // metrics all see it.
    const t = target(req);
    const known = typeof t === 'object' ? t : undefined;
    const fate = deps.observer.begin('outbound', req.method ?? 'GET', known?.authority ?? '', known?.path ?? req.url ?? '', req.headers, started, sourceService);
    fate.sourceIdentity = deps.identity?.();
    const upgrade = requestedUpgrade(req, res);
    if (typeof upgrade === 'object') {
      sendLocalReply(res, 400, 'bad-request', upgrade.refuse, deps.proxyId);
      fate.message = upgrade.refuse;
      record('unknown', fate)(400, 'bad-request');
      return;
    }
    const route = t !== undefined && typeof t !== 'string' ? routes.get(t.authority) : undefined;
    if (route !== undefined && typeof t === 'object') {
      forwardMesh(req, res, route.entry, route.destination, route.sinks, t.authority, t.path, fate, upgrade);
      return;
    }
    const r = resolve(req, t);
    if (r.kind === 'error') {
      sendLocalReply(res, r.status, r.reason, r.message, deps.proxyId);
      fate.message = r.message;
      record('unknown', fate)(r.status, r.reason);
      return;
    }
    if (r.kind === 'mesh') {
      const destination = `${r.entry.service.name}.${r.entry.service.namespace}`;
      const s = sinksOf(destination, r.entry.policy);
      if (routes.size >= 1024) routes.clear();
      routes.set(r.authority, { entry: r.entry, destination, sinks: s });
      forwardMesh(req, res, r.entry, destination, s, r.authority, r.path, fate, upgrade);
      return;
    }
    const destination = 'passthrough';
    const s = sinksOf(destination, DEFAULT_BACKEND_POLICY);
    forwardRequest(req, res, { picker: staticPicker(r.host, r.port), policy: DEFAULT_BACKEND_POLICY, authority: r.authority, path: r.path, upgrade }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: fate.startedAt,
      fate,
      onComplete: record(destination, fate),
      onRetry: s.onRetry,
      budget: s.budget,
      onBudgetExhausted: s.onBudgetExhausted,
    });
  };

  const forwardMesh = (req: AnyRequest, res: AnyResponse, entry: ServicePortEntry, destination: string, s: DestinationSinks, authority: string, path: string, fate: FateRecord, upgrade: string | undefined): void => {
    // Outbound RateLimitPolicies of the Service the request names, before routing picks a backend.
    const limiters = deps.rateLimits?.outbound(destination);
    if (limiters === undefined) return forwardAdmitted(req, res, entry, destination, s, authority, path, fate, upgrade);
    withinLimits(limiters, req, res, destination, fate, () => forwardAdmitted(req, res, entry, destination, s, authority, path, fate, upgrade));
  };

  /** Runs `go` if the limits admit the request; otherwise answers 429 (or 503) and records it. */
  const withinLimits = (limiters: readonly PolicyLimiter[], req: AnyRequest, res: AnyResponse, destination: string, fate: FateRecord, go: () => void): void => {
    const d = checkLimits(limiters, deps.rateLimits!.self(), req.headers);
    if (d === undefined) return go();
    if (!(d instanceof Promise)) return refuseLimited(res, destination, fate, d);
    // Waiting for Redis: a client that leaves meanwhile gets nothing more.
    let gone = false;
    const onClose = (): void => {
      gone = true;
    };
    (res as EventEmitter).once('close', onClose);
    void d.then((x) => {
      (res as EventEmitter).off('close', onClose);
      if (gone) record(destination, fate)(499, undefined);
      else if (x === undefined) go();
      else refuseLimited(res, destination, fate, x);
    });
  };

  const refuseLimited = (res: AnyResponse, destination: string, fate: FateRecord, d: Denial): void => {
    const reply = denialReply(d);
    sendLocalReply(res, reply.status, reply.reason, reply.message, deps.proxyId, reply.headers);
    fate.message = reply.message;
    fate.decide(`rate-limit: ${reply.reason} (${reply.status})`);
    record(destination, fate)(reply.status, reply.reason);
  };

  const forwardAdmitted = (req: AnyRequest, res: AnyResponse, entry: ServicePortEntry, destination: string, s: DestinationSinks, authority: string, path: string, fate: FateRecord, upgrade: string | undefined): void => {
    if (entry.routes !== undefined) {
      routed(req, res, entry, authority, path, fate, upgrade);
      return;
    }
    const h = entry.hashPolicy === undefined ? undefined : hashOf(entry.hashPolicy, req, path, undefined);
    forwardRequest(req, res, { picker: entry.balancer.picker(), policy: entry.policy, authority, path, addHeaders: meshAddHeaders, upgrade, breaker: entry.breaker, hashKey: h?.hashKey, editResponse: h?.editResponse }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: fate.startedAt,
      fate,
      onComplete: record(destination, fate),
      onRetry: s.onRetry,
      budget: s.budget,
      onBudgetExhausted: s.onBudgetExhausted,
      onCircuitOpen: s.onCircuitOpen,
    });
  };

  /** A Service with routes attached: the route table decides the backend Service, the filters and the local replies. */
  const routed = (req: AnyRequest, res: AnyResponse, entry: ServicePortEntry, authority: string, path: string, fate: FateRecord, upgrade: string | undefined): void => {
    const table = deps.table.get()!;
    const decision = routeRequest(table, entry, { method: req.method ?? 'GET', path, authority, headers: req.headers });
    fate.route = decision.route;
    fate.rule = decision.rule;
    if (decision.delayMs !== undefined && decision.delayMs > 0) {
      metrics.faults.inc({ route: decision.route ?? 'none', kind: 'delay' });
      fate.decide(`fault: delay ${decision.delayMs}ms`);
      // FaultInjection's delay: the request waits here, then goes on as decided (a client that
      // leaves meanwhile gets nothing more).
      const delayed = { ...decision, delayMs: 0 } as typeof decision;
      let gone = false;
      (res as EventEmitter).once('close', () => (gone = true));
      setTimeout(() => {
        if (!gone) carryOut(req, res, entry, delayed, fate, upgrade);
      }, decision.delayMs);
      return;
    }
    carryOut(req, res, entry, decision, fate, upgrade);
  };

  const carryOut = (req: AnyRequest, res: AnyResponse, entry: ServicePortEntry, decision: RouteDecision, fate: FateRecord, upgrade: string | undefined): void => {
    if (decision.kind === 'reply') {
      const destination = `${entry.service.name}.${entry.service.namespace}`;
      if (decision.reason === 'fault-abort') {
        metrics.faults.inc({ route: decision.route ?? 'none', kind: 'abort' });
        fate.decide(`fault: abort ${decision.grpcStatus !== undefined ? `grpc-status ${decision.grpcStatus}` : decision.status}`);
      }
      fate.message = decision.message;
      if (decision.bodyless === true) sendBodylessReply(res, decision.status, decision.reason, decision.headers ?? {}, deps.proxyId);
      else if (decision.headers?.location !== undefined) sendRedirect(res, decision.status, decision.headers.location, deps.proxyId);
      else if (decision.grpcStatus !== undefined) sendGrpcReply(res, decision.grpcStatus, decision.reason, decision.message, deps.proxyId);
      else sendLocalReply(res, decision.status, decision.reason, decision.message, deps.proxyId);
      record(destination, fate)(decision.status, decision.reason);
      metrics.routeRequests.inc({ route: decision.route ?? 'none', rule: decision.rule ?? 'none', destination_service: destination, code: String(decision.status), reason: decision.reason });
      return;
    }
    const target = decision.entry;
    const destination = `${target.service.name}.${target.service.namespace}`;
    // RateLimitPolicies on the matched route: checked once the route is known.
    const routeLimits = deps.rateLimits?.route(decision.route);
    if (routeLimits !== undefined) {
      withinLimits(routeLimits, req, res, destination, fate, () => forwardRouted(req, res, decision, destination, fate, upgrade));
      return;
    }
    forwardRouted(req, res, decision, destination, fate, upgrade);
  };

  const forwardRouted = (req: AnyRequest, res: AnyResponse, decision: Extract<RouteDecision, { kind: 'forward' }>, destination: string, fate: FateRecord, upgrade: string | undefined): void => {
    const target = decision.entry;
    const recordRoute = record(destination, fate);
    const onComplete = (status: number, reason: LocalReplyReason | undefined, attempts: number, endedAt: number): void => {
      recordRoute(status, reason, attempts, endedAt);
      metrics.routeRequests.inc({ route: decision.route, rule: decision.rule, destination_service: destination, code: String(status), reason: reason ?? '' });
    };
    const addHeaders = decision.headers === undefined ? meshAddHeaders : { ...decision.headers, ...meshAddHeaders };
    const mirror = decision.mirrors.length > 0 && upgrade === undefined ? mirrorTee(req, decision.mirrors, decision.path, decision.authority, addHeaders) : undefined;
    const h = target.hashPolicy === undefined ? undefined : hashOf(target.hashPolicy, req, decision.path, decision.response);
    const editResponse = h === undefined ? decision.response : h.editResponse;
    forwardRequest(req, res, { picker: target.balancer.picker(), policy: target.policy, authority: decision.authority, path: decision.path, addHeaders, editResponse, mirror, upgrade, route: decision.policy, breaker: target.breaker, hashKey: h?.hashKey }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: fate.startedAt,
      fate,
      onComplete,
      // A route's retry spends its backend Service's budget (the budget is the Service's, not the route's).
      ...sinksOf(destination, target.policy),
    });
  };

  /**
   * RequestMirror copies of an HTTP/1.1 request (an HTTP/2 one is not mirrored: the copy would need
   * its own stream), one per mirror target, fed by one tee. Undefined when none could start.
   */
  const mirrorTee = (req: AnyRequest, targets: readonly ServicePortEntry[], path: string, authority: string, extra: Readonly<Record<string, string | string[] | undefined>>): MirrorTee | undefined => {
    if (req.httpVersionMajor !== 1) return undefined;
    const te = req.headers['transfer-encoding'];
    const bodyLength = te !== undefined ? -1 : parsedContentLength(req.headers['content-length']);
    const copy = { method: req.method ?? 'GET', path, authority, rawHeaders: req.rawHeaders, headers: req.headers, bodyLength: bodyLength === 0 ? undefined : bodyLength, extra };
    const tees = targets.map((t) => startMirror(deps.pool, t, copy)).filter((t): t is MirrorTee => t !== undefined);
    if (tees.length === 0) return undefined;
    if (tees.length === 1) return tees[0];
    return { chunk: (data) => tees.forEach((t) => t.chunk(data)), end: () => tees.forEach((t) => t.end()) };
  };

  /** An upgrade node:http took (its connection had gone to node:http): the same path as any request. */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void): void => {
    request(req, upgradeEventResponse(req, socket, head, adopt));
  };

  /**
   * CONNECT: what Node's fetch sends through HTTP_PROXY, even for http:// URLs. A tunnel to a mesh
   * service is terminated here: the HTTP inside it comes back to this listener and is routed like
   * any other request (its Host names the service). Other hosts get a plain TCP tunnel when
   * passthrough is allowed.
   */
  const connect = (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void): void => {
    const authority = req.url ?? '';
    const table = deps.table.get();
    const host = parseMeshHost(authority);
    const refuse = (status: number, reason: LocalReplyReason, message: string): void => {
      socket.end(rawLocalReply(status, reason, message, deps.proxyId));
    };
    if (!table) return refuse(503, 'no-snapshot', 'this sidecar has not received its configuration from the control plane yet');
    if (host && table.lookup(host.name, host.namespace ?? node.namespace)) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      adopt(socket);
      return;
    }
    if (!deps.allowPassthrough()) return refuse(404, 'unknown-service', `${authority} is not a service of the mesh and outbound traffic is registry-only`);
    const pass = splitAuthority(authority, undefined);
    if (!pass) return refuse(400, 'bad-request', `CONNECT needs HOST:PORT, got ${JSON.stringify(authority)}`);
    if (isSelf(pass.host, pass.port)) return refuse(400, 'bad-request', `${authority} is this sidecar's own outbound listener`);
    const upstream = net.connect({ host: pass.host, port: pass.port });
    const connectTimer = setTimeout(() => upstream.destroy(new Error('connect timeout')), DEFAULT_BACKEND_POLICY.timeouts.connectMs);
    const onConnectError = (): void => {
      clearTimeout(connectTimer);
      refuse(503, 'upstream-connect-failure', `could not connect to ${authority}`);
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      clearTimeout(connectTimer);
      upstream.off('error', onConnectError);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
      socket.on('close', () => upstream.destroy());
    });
  };

  return { request, upgrade, connect };
}
