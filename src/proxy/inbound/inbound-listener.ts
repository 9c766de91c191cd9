// Assembly: the inbound listener (the instance's address in the catalog) wired to the inbound handler.

import { listen, type Listener, type ListenOptions } from '../transport/listener.ts';
import { createInboundHandler, type InboundDeps } from '../http/inbound-handler.ts';

export function startInboundListener(host: string, port: number, deps: InboundDeps, options: ListenOptions = {}): Promise<Listener> {
  const handler = createInboundHandler(deps);
  const labels = { listener: 'inbound' };
  const acceptedLabels = { listener: 'inbound', worker: deps.metrics.worker };
  const handlers = {
    request: handler.request,
    proxyId: deps.proxyId,
    upgrade: handler.upgrade,
    connectionOpened: () => {
      deps.metrics.connections.inc(labels);
      deps.metrics.accepted.inc(acceptedLabels);
    },
    connectionClosed: () => deps.metrics.connections.dec(labels),
  };
  return listen(host, port, handlers, options);
}
