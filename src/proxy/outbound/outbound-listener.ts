// Assembly: the outbound listener (where the app's HTTP_PROXY points) wired to the outbound handler.

import { listen, type Listener, type ListenOptions } from '../transport/listener.ts';
import { createOutboundHandler, type OutboundDeps } from '../http/outbound-handler.ts';
import { listenerMetricHandlers } from '../admin/listener-metrics.ts';

export function startOutboundListener(host: string, port: number, deps: OutboundDeps, options: ListenOptions = {}): Promise<Listener> {
  const handler = createOutboundHandler(deps);
  const handlers = {
    request: handler.request,
    proxyId: deps.proxyId,
    upgrade: (req: Parameters<typeof handler.upgrade>[0], socket: Parameters<typeof handler.upgrade>[1], head: Buffer) => void handler.upgrade(req, socket, head),
    connect: handler.connect,
    ...listenerMetricHandlers(deps.metrics, 'outbound'),
  };
  return listen(host, port, handlers, options);
}
