// The outbound path: the app's request (absolute-form via HTTP_PROXY, or origin-form with a mesh
// Host) names a service; outbound-resolve.ts finds it in the service table, and this runs the
// request flow: fate, rate limits, routes and their filters, then forwards through the balancer.
// Hosts that are not mesh services pass through to their real address unless the mesh says not to
// (CONNECT tunnels: outbound-connect.ts; per-destination counters and budgets: destination-sinks.ts).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import type { Watch } from '../../lib/watch.ts';
import type { ServicePortEntry, ServiceTable } from '../balance/service-table.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { forwardRequest, type AnyRequest, type AnyResponse } from './forward.ts';
import { sendBodylessReply, sendGrpcReply, sendLocalReply, sendRedirect, type LocalReplyReason } from './local-reply.ts';
import { staticPicker } from '../balance/static-picker.ts';
import { createRequestRecorder, createRouteRecorder } from './request-metrics.ts';
import { routeRequest, type RouteDecision } from '../routing/route-request.ts';
import { startMirror, type MirrorTee } from '../filters/request-mirror/mirror.ts';
import { parsedContentLength } from './headers.ts';
import { requestedUpgrade, upgradeEventResponse } from './upgrade.ts';
import type { RateLimits } from '../filters/rate-limit/rate-limits.ts';
import { checkLimits, type Denial, type PolicyLimiter } from '../filters/rate-limit/policy-limiter.ts';
import { denialReply } from '../filters/rate-limit/rate-limit-filter.ts';
import type { FateRecord } from '../observe/fate.ts';
import type { Observer } from '../observe/observer.ts';
import type { HashPolicy } from '../balance/hashing/hash-policy.ts';
import { createResolver, target } from './outbound-resolve.ts';
import { createConnectHandler } from './outbound-connect.ts';
import { destinationSinks, type DestinationSinks } from './destination-sinks.ts';

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

export function createOutboundHandler(deps: OutboundDeps) {
  const { node, metrics } = deps;
  const source = node.service;
  // The same for every request this handler forwards to a mesh service.
  const meshAddHeaders = { 'x-weft-source': `${source}.${node.namespace}` };

  const { resolve, isSelf } = createResolver(deps);
  const connect = createConnectHandler(deps, isSelf);
  const sinksOf = destinationSinks(metrics);

  // Mesh routes by authority under the table in force (a new snapshot clears them): most requests
  // name one of a few hosts, and this skips parsing the host and the table lookup.
  const routes = new Map<string, { readonly entry: ServicePortEntry; readonly destination: string; readonly sinks: DestinationSinks }>();
  deps.table.subscribe(() => routes.clear());

  const recorder = createRequestRecorder(metrics, 'outbound');
  const routeRecorder = createRouteRecorder(metrics);

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
      const destination = r.entry.destination;
      const s = sinksOf(destination, r.entry.policy);
      if (routes.size >= 1024) routes.clear();
      routes.set(r.authority, { entry: r.entry, destination, sinks: s });
      forwardMesh(req, res, r.entry, destination, s, r.authority, r.path, fate, upgrade);
      return;
    }
    const destination = 'passthrough';
    const s = sinksOf(destination, DEFAULT_BACKEND_POLICY);
    forwardRequest(req, res, { picker: staticPicker(r.host, r.port), policy: DEFAULT_BACKEND_POLICY, authority: r.authority, path: r.path, upgrade }, hooksFor(destination, s, fate));
  };

  /** What forwarding reports to: the pool, the request's fate, and the destination's counters and budget. */
  const hooksFor = (destination: string, s: DestinationSinks, fate: FateRecord) => ({
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
    forwardRequest(req, res, { picker: entry.balancer.picker(), policy: entry.policy, authority, path, addHeaders: meshAddHeaders, upgrade, breaker: entry.breaker, hashKey: h?.hashKey, editResponse: h?.editResponse }, hooksFor(destination, s, fate));
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
      // At least delayMs: a timer counts from the event loop's cached time, which can be a
      // millisecond behind, so it may fire that much early; it is armed again for what is left.
      const until = performance.now() + decision.delayMs;
      const fire = (): void => {
        const left = until - performance.now();
        if (left > 0) setTimeout(fire, Math.ceil(left));
        else if (!gone) carryOut(req, res, entry, delayed, fate, upgrade);
      };
      setTimeout(fire, decision.delayMs);
      return;
    }
    carryOut(req, res, entry, decision, fate, upgrade);
  };

  const carryOut = (req: AnyRequest, res: AnyResponse, entry: ServicePortEntry, decision: RouteDecision, fate: FateRecord, upgrade: string | undefined): void => {
    if (decision.kind === 'reply') {
      const destination = entry.destination;
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
      routeRecorder.record(decision.route ?? 'none', decision.rule ?? 'none', destination, decision.status, decision.reason);
      return;
    }
    const target = decision.entry;
    const destination = target.destination;
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
      routeRecorder.record(decision.route, decision.rule, destination, status, reason ?? '');
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

  return { request, upgrade, connect };
}
