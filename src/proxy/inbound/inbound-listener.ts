// Assembly: the inbound listener (the instance's address in the catalog) wired to the inbound handler
// (HTTP) and to the TCP handler (connections carried as bytes).

import { listen, type Listener, type ListenerHandlers, type ListenOptions } from '../transport/listener.ts';
import { createInboundHandler, type InboundDeps } from '../http/inbound-handler.ts';
import { listenerMetricHandlers } from '../admin/listener-metrics.ts';

/** `tcp`: where TCP connections (ALPN `weft-tcp`, or all of them for a TCP app) go instead of the HTTP handler. */
export function startInboundListener(host: string, port: number, deps: InboundDeps, options: ListenOptions = {}, tcp: Pick<ListenerHandlers, 'tcp' | 'rawTcp'> = {}): Promise<Listener> {
  const handler = createInboundHandler(deps);
  const handlers = {
    request: handler.request,
    proxyId: deps.proxyId,
    upgrade: handler.upgrade,
    ...tcp,
    ...listenerMetricHandlers(deps.metrics, 'inbound'),
  };
  return listen(host, port, handlers, options);
}
