// Assembly: the inbound listener (the instance's address in the catalog) wired to the inbound handler.

import { listen, type Listener, type ListenOptions } from '../transport/listener.ts';
import { createInboundHandler, type InboundDeps } from '../http/inbound-handler.ts';
import { listenerMetricHandlers } from '../admin/listener-metrics.ts';

export function startInboundListener(host: string, port: number, deps: InboundDeps, options: ListenOptions = {}): Promise<Listener> {
  const handler = createInboundHandler(deps);
  const handlers = {
    request: handler.request,
    proxyId: deps.proxyId,
    upgrade: handler.upgrade,
    ...listenerMetricHandlers(deps.metrics, 'inbound'),
  };
  return listen(host, port, handlers, options);
}
