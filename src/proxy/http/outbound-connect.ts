// CONNECT on the outbound listener: what Node's fetch sends through HTTP_PROXY. A tunnel to a mesh
// service is terminated here and its HTTP comes back to the listener; other hosts get a plain TCP
// tunnel when outbound passthrough is allowed.

import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseMeshHost } from '../../config/mesh-host.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import { rawLocalReply, type LocalReplyReason } from './local-reply.ts';
import { splitAuthority, type OutboundResolver } from './outbound-resolve.ts';
import type { OutboundDeps } from './outbound-handler.ts';

/** The CONNECT handler of one outbound listener. */
export function createConnectHandler(deps: Pick<OutboundDeps, 'node' | 'proxyId' | 'table' | 'allowPassthrough'>, isSelf: OutboundResolver['isSelf']) {
  const { node } = deps;
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
  return connect;
}
