// The inbound path: a request from another sidecar (or any client) for the local app. There is one
// endpoint, so nothing to balance; if the app cannot be reached the reply says
// `upstream-connect-failure`, which tells the calling sidecar the request never reached an app.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { tunnel } from '../transport/tunnel.ts';
import { staticPicker } from '../balance/static-picker.ts';
import { forwardRequest, type AnyRequest, type AnyResponse } from './forward.ts';
import { rawLocalReply } from './local-reply.ts';
import { createRequestRecorder } from './request-metrics.ts';

export interface InboundDeps {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly appHost: string;
  readonly appPort: number;
  readonly pool: UpstreamPool;
  readonly metrics: ProxyMetrics;
}

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

  const request = (req: AnyRequest, res: AnyResponse): void => {
    const started = performance.now();
    // The label must stay bounded: only a well-formed `service.namespace` counts as a source.
    const header = req.headers['x-weft-source'];
    const source = typeof header === 'string' && SOURCE.test(header) ? header : 'unknown';
    forwardRequest(req, res, { picker, policy: INBOUND_POLICY, authority: (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? authority, path: req.url ?? '/' }, {
      pool: deps.pool,
      proxyId: deps.proxyId,
      startedAt: started,
      onComplete: (status, reason, _attempts, endedAt) => {
        // Bounded labels: the source is a mesh service name the peer sidecar set, or `unknown`.
        recorder.record(source, destination, status, reason, (endedAt - started) / 1000);
      },
    });
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    tunnel(req, socket, head, deps.appHost, deps.appPort, req.url ?? '/', {}, INBOUND_POLICY.timeouts.connectMs).catch(() => {
      socket.end(rawLocalReply(503, 'upstream-connect-failure', `could not connect to the app at ${authority}`, deps.proxyId));
    });
  };

  return { request, upgrade };
}
