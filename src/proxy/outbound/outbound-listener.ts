// Assembly: the outbound listener (where the app's HTTP_PROXY points) wired to the outbound handler.

import { listen, type Listener } from '../transport/listener.ts';
import { createOutboundHandler, type OutboundDeps } from '../http/outbound-handler.ts';

export function startOutboundListener(host: string, port: number, deps: OutboundDeps): Promise<Listener> {
  const handler = createOutboundHandler(deps);
  const labels = { listener: 'outbound' };
  return listen(host, port, {
    request: handler.request,
    upgrade: (req, socket, head) => void handler.upgrade(req, socket, head),
    connect: handler.connect,
    connectionOpened: () => deps.metrics.connections.inc(labels),
    connectionClosed: () => deps.metrics.connections.dec(labels),
  });
}
