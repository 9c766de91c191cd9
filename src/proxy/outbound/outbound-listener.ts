// Assembly: the outbound listener (where the app's HTTP_PROXY points) wired to the outbound handler.

import { listen, type Listener, type ListenOptions } from '../transport/listener.ts';
import { createOutboundHandler, type OutboundDeps } from '../http/outbound-handler.ts';
import { listenerMetricHandlers } from '../admin/listener-metrics.ts';

export function startOutboundListener(host: string, port: number, deps: OutboundDeps, options: ListenOptions = {}): Promise<Listener> {
  const handler = createOutboundHandler(deps);
  const handlers = {
    request: handler.request,
    proxyId: deps.proxyId,
    upgrade: handler.upgrade,
    connect: handler.connect,
    ...listenerMetricHandlers(deps.metrics, 'outbound'),
  };
  return listen(host, port, handlers, options);
}
