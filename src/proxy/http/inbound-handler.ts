// The inbound path: a request from another sidecar (or any client) for the local app. There is one
// endpoint, so nothing to balance; if the app cannot be reached the reply says
// `upstream-connect-failure`, which tells the calling sidecar the request never reached an app.
// Over mutual TLS the caller's identity is proven: it names the source and reaches the app in
// `x-forwarded-client-cert`, which a plaintext caller can never set. The inbound filters
// (src/proxy/filters/: jwt-authn, authz) judge a request before it is forwarded; the adaptive
// concurrency limit (filters/adaptive-concurrency/) is the last gate before the app.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { staticPicker } from '../balance/static-picker.ts';
import { forwardRequest, type AnyRequest, type AnyResponse } from './forward.ts';
import { sendLocalReply } from './local-reply.ts';
import { createRequestRecorder } from './request-metrics.ts';
import { parseSpiffeId } from '../../config/identity.ts';
import { peerIdentity, type MeshTls } from '../transport/mesh-tls.ts';
import { authorizationPath } from './authorizer.ts';
import { requestedUpgrade, upgradeEventResponse } from './upgrade.ts';
import { hostError, requestTarget } from './request-target.ts';
import { createInboundRequest, runInboundFilters, type FilterReply, type InboundFilter, type InboundRequest } from '../filters/inbound-filter.ts';
import type { AdaptiveConcurrency } from '../filters/adaptive-concurrency/adaptive-concurrency-filter.ts';
import type { FateRecord } from '../observe/fate.ts';
import type { Observer } from '../observe/observer.ts';

export interface InboundDeps {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly appHost: string;
  readonly appPort: number;
  readonly pool: UpstreamPool;
  readonly metrics: ProxyMetrics;
  /** This sidecar's TLS identity, once it holds a certificate (names it in x-forwarded-client-cert). */
  readonly tls: () => MeshTls | undefined;
  /** The inbound filters in force (jwt-authn, authz); undefined when no policy applies to this service. */
  readonly filters: () => readonly InboundFilter[] | undefined;
  /** The adaptive concurrency limit (BackendPolicy adaptiveConcurrency of this service); absent: none. */
  readonly concurrency?: AdaptiveConcurrency;
  /** Opens and closes each request's fate record (observe/observer.ts): request id, trace, rings, logs. */
  readonly observer: Observer;
}

export const XFCC_HEADER = 'x-forwarded-client-cert';
/** Plaintext requests: whatever a caller wrote in x-forwarded-client-cert is dropped, never believed. */
const PLAINTEXT_HEADERS = Object.freeze({ [XFCC_HEADER]: undefined });
/** Per peer identity: the metrics source and the headers for the app (bounded by the mesh's services). */
interface PeerInfo {
  readonly source: string;
  readonly headers: Readonly<Record<string, string>>;
}
const MAX_PEERS = 4096;

/**
 * Retrying is the caller's job (it can go to another instance); here a failure is reported at once.
 * The one exception is a stale pooled connection to the app, which this hop owns and so retries
 * itself (forward.ts). The caller's timers govern the exchange: none runs here but connect.
 */
const INBOUND_POLICY: BackendPolicySpec = {
  ...DEFAULT_BACKEND_POLICY,
  retries: { attempts: 0 },
  timeouts: { ...DEFAULT_BACKEND_POLICY.timeouts, connectMs: 1_000, responseHeaderMs: 0, streamIdleMs: 0, requestMs: 0 },
};

const SOURCE = /^[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}$/;

/** The filters' header edits on top of this hop's own (x-forwarded-client-cert), which win. */
function mergeHeaders(own: Readonly<Record<string, string | undefined>>, filtered: InboundRequest): Readonly<Record<string, string | undefined>> {
  return filtered.headerEdits === undefined ? own : { ...filtered.headerEdits, ...own };
}

/**
 * Runs the filters: `done` gets the reply (or undefined to pass on), synchronously when no filter
 * waits. When one waits (a JWT signature, the first JWKS) and `client` closes meanwhile, `gone` is
 * called instead: the request goes no further.
 */
function filterRequest(filters: readonly InboundFilter[], ir: InboundRequest, client: EventEmitter, done: (reply: FilterReply | undefined) => void, gone: () => void): void {
  const r = runInboundFilters(filters, ir);
  if (!(r instanceof Promise)) return done(r);
  let closed = false;
  const onClose = (): void => {
    closed = true;
  };
  client.once('close', onClose);
  const settle = (reply: FilterReply | undefined): void => {
    client.off('close', onClose);
    if (closed) gone();
    else done(reply);
  };
  r.then(settle, (err: unknown) => settle({ status: 500, reason: 'filter-error', message: `an inbound filter failed: ${err instanceof Error ? err.message : String(err)}` }));
}

export function createInboundHandler(deps: InboundDeps) {
  const picker = staticPicker(deps.appHost, deps.appPort);
  const destination = `${deps.node.service}.${deps.node.namespace}`;
  const authority = `${deps.appHost}:${deps.appPort}`;
  const recorder = createRequestRecorder(deps.metrics, 'inbound');

  const peers = new Map<string, PeerInfo>();
  const peerInfo = (identity: string): PeerInfo => {
    let info = peers.get(identity);
    if (info === undefined) {
      const id = parseSpiffeId(identity);
      const own = deps.tls()?.identity;
      // Envoy's format, which apps and frameworks already parse: By= this workload, URI= the caller.
      info = { source: id ? `${id.service}.${id.namespace}` : 'unknown', headers: { [XFCC_HEADER]: own ? `By=${own};URI=${identity}` : `URI=${identity}` } };
      if (peers.size >= MAX_PEERS) peers.clear();
      peers.set(identity, info);
    }
    return info;
  };

  // Host values already found valid, bounded: a hostile client cannot grow it.
  const goodHosts = new Set<string>();
  const checkHost = (host: string): string | undefined => {
    const bad = hostError(host);
    if (bad === undefined) {
      if (goodHosts.size >= 1024) goodHosts.clear();
      goodHosts.add(host);
    }
    return bad;
  };

  /** The request ended: its metrics and its fate. */
  const ended = (fate: FateRecord, status: number, reason: Parameters<typeof recorder.record>[3], endedAt = performance.now(), message?: string): void => {
    recorder.record(fate.sourceService, destination, status, reason, (endedAt - fate.startedAt) / 1000);
    if (message !== undefined) fate.message = message;
    deps.observer.end(fate, status, reason, endedAt);
  };

  const request = (req: AnyRequest, res: AnyResponse): void => {
    const started = performance.now();
    const peer = peerIdentity(req.socket);
    let source: string;
    let addHeaders: Readonly<Record<string, string | undefined>>;
    if (peer !== undefined) {
      const info = peerInfo(peer);
      source = info.source;
      addHeaders = info.headers;
    } else {
      // Unauthenticated: the caller's word. The label must stay bounded: only a well-formed
      // `service.namespace` counts as a source.
      const header = req.headers['x-weft-source'];
      source = typeof header === 'string' && SOURCE.test(header) ? header : 'unknown';
      addHeaders = PLAINTEXT_HEADERS;
    }
    // One target, parsed once: what the policies judge is what the app is sent (RFC 9112 §3.2).
    const t = requestTarget(req);
    const fate = deps.observer.begin('inbound', req.method ?? 'GET', (typeof t === 'object' ? t.authority : undefined) ?? (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? '', typeof t === 'object' ? t.path : req.url ?? '', req.headers, started, source);
    fate.sourceIdentity = peer;
    fate.destinationService = destination;
    fate.destinationIdentity = deps.tls()?.identity;
    if (typeof t === 'string') {
      sendLocalReply(res, 400, 'bad-request', `bad request target: ${t}`, deps.proxyId);
      ended(fate, 400, 'bad-request', undefined, `bad request target: ${t}`);
      return;
    }
    // An upgrade goes through this same path: filters, identity headers, metrics; a tunnel only after the app's 101.
    const upgrade = requestedUpgrade(req, res);
    if (typeof upgrade === 'object') {
      sendLocalReply(res, 400, 'bad-request', upgrade.refuse, deps.proxyId);
      ended(fate, 400, 'bad-request', undefined, upgrade.refuse);
      return;
    }
    const requestAuthority = t.authority ?? (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? authority;
    // A Host that is not host[:port] (a path, a user) never reaches the app. Callers send few
    // distinct ones: each is checked once (as the outbound side does through its route cache).
    const badHost = t.authority === undefined && !goodHosts.has(requestAuthority) ? checkHost(requestAuthority) : undefined;
    if (badHost !== undefined) {
      sendLocalReply(res, 400, 'bad-request', badHost, deps.proxyId);
      ended(fate, 400, 'bad-request', undefined, badHost);
      return;
    }
    const filters = deps.filters();
    if (filters === undefined) return forward(req, res, addHeaders, requestAuthority, t.path, fate, upgrade);
    // jwt-authn, then authz: they judge the normalized path; the app gets the target (minus a token parameter).
    fate.filters = filters;
    const ir = createInboundRequest(req.method ?? 'GET', authorizationPath(t.path), t.path, req.headers, peer, deps.appPort);
    filterRequest(filters, ir, res as EventEmitter, (reply) => {
      if (reply === undefined) return forward(req, res, mergeHeaders(addHeaders, ir), requestAuthority, ir.target, fate, upgrade);
      sendLocalReply(res, reply.status, reply.reason, reply.message, deps.proxyId, reply.headers);
      fate.decide(`${reply.reason}: ${reply.message}`);
      ended(fate, reply.status, reply.reason, undefined, reply.message);
    }, () => ended(fate, 499, undefined));
  };

  const forward = (req: AnyRequest, res: AnyResponse, addHeaders: Readonly<Record<string, string | undefined>>, requestAuthority: string, path: string, fate: FateRecord, upgrade: string | undefined): void => {
    // The adaptive concurrency limit: the last gate. An upgrade becomes a long-lived tunnel, whose
    // duration is no request latency: it is neither limited nor sampled.
    const limiter = upgrade === undefined ? deps.concurrency?.current() : undefined;
    let token = -1;
    let admittedAt = 0;
    if (limiter !== undefined) {
      token = limiter.admit();
      if (token < 0) {
        // Shed at once, never queued: a queue here would only add the latency the limit exists to avoid.
        deps.concurrency!.shed();
        const message = `the app's adaptive concurrency limit (${limiter.limit}) is reached`;
        sendLocalReply(res, 503, 'concurrency-limit-exceeded', message, deps.proxyId);
        fate.decide(`adaptive-concurrency: shed (limit ${limiter.limit})`);
        ended(fate, 503, 'concurrency-limit-exceeded', undefined, message);
        return;
      }
      admittedAt = performance.now();
    }
    forwardRequest(req, res, { picker, policy: INBOUND_POLICY, authority: requestAuthority, path, addHeaders, upgrade }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: fate.startedAt,
      fate,
      onComplete: (status, reason, _attempts, endedAt) => {
        // Every end frees the slot (onComplete runs once: answer, local reply, client gone). Only an
        // answer from the app is a latency sample; a local reply (app unreachable) or 499 is not.
        if (limiter !== undefined) {
          if (reason === undefined && status !== 499) limiter.release(token, endedAt - admittedAt);
          else limiter.cancel();
        }
        // Bounded labels: the source is a mesh service name the peer sidecar set, or `unknown`.
        ended(fate, status, reason, endedAt);
      },
      // Only `stale-connection` can happen here (no policy retries).
      onRetry: (reason) => deps.metrics.retries.inc({ destination_service: destination, reason }),
    });
  };

  /** An upgrade node:http took (its connection had gone to node:http): the same path as any request. */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void): void => {
    request(req, upgradeEventResponse(req, socket, head, adopt));
  };

  return { request, upgrade };
}
