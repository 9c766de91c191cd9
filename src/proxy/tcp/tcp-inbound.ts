// The server side of TCP through the mesh: a connection the inbound listener recognised as TCP
// (mutual TLS with ALPN `weft-tcp`, or any connection when the app speaks TCP) is judged by the
// service's AuthorizationPolicies at connection level, then piped to the local app's port.

import net from 'node:net';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import { createLogger } from '../../lib/log.ts';
import type { TcpAuthorizer } from './tcp-authz.ts';
import { pipeSockets, resetSocket } from './tcp-pipe.ts';

const log = createLogger('tcp');

/** How long the app may take to accept the connection before the caller is reset. */
const APP_CONNECT_TIMEOUT_MS = 10_000;

export interface TcpInboundDeps {
  /** `NAME.NAMESPACE` of this sidecar's service: the metrics' destination_service. */
  readonly destination: string;
  readonly appHost: string;
  readonly appPort: number;
  /** `--app-protocol tcp`: the app speaks TCP. An HTTP app gets no `weft-tcp` connection (result not-tcp). */
  readonly appIsTcp: boolean;
  /** The policies of the snapshot in force, compiled for TCP; undefined: every connection passes. */
  readonly authorizer: () => TcpAuthorizer | undefined;
  readonly metrics: ProxyMetrics;
}

/** Judges, connects to the app and pipes one inbound TCP connection (`peer` undefined: plaintext). */
export function handleInboundTcp(socket: net.Socket, peer: string | undefined, deps: TcpInboundDeps): void {
  const { metrics, destination } = deps;
  const security = peer !== undefined ? 'mtls' : 'plaintext';
  socket.allowHalfOpen = true;
  socket.pause();
  const early = (): void => {};
  socket.on('error', early);
  const refuse = (result: 'not-tcp' | 'authz-denied' | 'app-unreachable'): void => {
    metrics.tcpConnections.inc({ direction: 'inbound', destination_service: destination, security, result });
    resetSocket(socket);
  };
  if (!deps.appIsTcp) return refuse('not-tcp');
  const decision = deps.authorizer()?.check(peer);
  if (decision) {
    for (const policy of decision.audited) metrics.authzAudits.inc({ policy, decision: decision.denied ? 'denied' : 'allowed' });
    if (decision.denied !== undefined) {
      log.info('tcp connection denied', { reason: decision.denied });
      return refuse('authz-denied');
    }
  }
  const app = net.connect({ host: deps.appHost, port: deps.appPort, noDelay: true, allowHalfOpen: true });
  const timer = setTimeout(() => app.destroy(new Error('connect timeout')), APP_CONNECT_TIMEOUT_MS);
  const failed = (): void => {
    clearTimeout(timer);
    app.destroy();
    refuse('app-unreachable');
  };
  app.once('error', failed);
  app.once('connect', () => {
    clearTimeout(timer);
    app.off('error', failed);
    socket.off('error', early);
    if (socket.destroyed) {
      app.destroy();
      return;
    }
    metrics.tcpConnections.inc({ direction: 'inbound', destination_service: destination, security, result: 'established' });
    pipeSockets(socket, app, (r) => {
      metrics.tcpBytes.inc({ direction: 'inbound', destination_service: destination, flow: 'sent' }, r.sent);
      metrics.tcpBytes.inc({ direction: 'inbound', destination_service: destination, flow: 'received' }, r.received);
    });
  });
}
