// The inbound path: a request from another sidecar (or any client) for the local app. There is one
// endpoint, so nothing to balance; if the app cannot be reached the reply says
// `upstream-connect-failure`, which tells the calling sidecar the request never reached an app.
// Over mutual TLS the caller's identity is proven: it names the source and reaches the app in
// `x-forwarded-client-cert`, which a plaintext caller can never set.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
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
import { authorizationPath, type Authorizer } from './authorizer.ts';
import { requestedUpgrade, upgradeEventResponse } from './upgrade.ts';

export interface InboundDeps {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly appHost: string;
  readonly appPort: number;
  readonly pool: UpstreamPool;
  readonly metrics: ProxyMetrics;
  /** This sidecar's TLS identity, once it holds a certificate (names it in x-forwarded-client-cert). */
  readonly tls: () => MeshTls | undefined;
  /** The AuthorizationPolicies of this service in force; undefined when none targets it. */
  readonly authorizer: () => Authorizer | undefined;
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

/** Retrying is the caller's job (it can go to another instance); here a failure is reported at once. */
const INBOUND_POLICY: BackendPolicySpec = {
  ...DEFAULT_BACKEND_POLICY,
  retries: { attempts: 0 },
  timeouts: { ...DEFAULT_BACKEND_POLICY.timeouts, connectMs: 1_000, requestMs: 0 },
};

const SOURCE = /^[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}$/;



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
    // The one request target of this request: authorization, the app and the metrics all see it.
    const path = req.url ?? '/';
    const denied = deps.authorizer()?.check(peer, req.method ?? 'GET', authorizationPath(path));
    if (denied !== undefined) {
      sendLocalReply(res, 403, 'authz-denied', denied, deps.proxyId);
      recorder.record(source, destination, 403, 'authz-denied', (performance.now() - started) / 1000);
      return;
    }
    const upgrade = requestedUpgrade(req, res);
    if (typeof upgrade === 'object') {
      sendLocalReply(res, 400, 'bad-request', upgrade.refuse, deps.proxyId);
      recorder.record(source, destination, 400, 'bad-request', (performance.now() - started) / 1000);
      return;
    }
    forwardRequest(req, res, { picker, policy: INBOUND_POLICY, authority: (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? authority, path, addHeaders, upgrade }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: started,
      onComplete: (status, reason, _attempts, endedAt) => {
        // Bounded labels: the source is a mesh service name the peer sidecar set, or `unknown`.
        recorder.record(source, destination, status, reason, (endedAt - started) / 1000);
      },
    });
  };

  /** An upgrade node:http took (its connection had gone to node:http): the same path as any request. */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void): void => {
    request(req, upgradeEventResponse(req, socket, head, adopt));
  };

  return { request, upgrade };
}
