// A picker with one fixed endpoint: the local app behind the inbound listener, or a passthrough
// host outside the mesh. Connect failures are reported but there is nowhere else to go.

import type { Picker, Pick } from './picker.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';

const noop = (): void => {};

export function staticPicker(address: string, port: number): Picker {
  const endpoint: EndpointSnapshot = { id: `${address}:${port}`, address, port, weight: 1, health: 'passing', labels: {} };
  const hit: Pick = { kind: 'endpoint', endpoint, done: noop };
  const tried: Pick = { kind: 'fail', reason: 'all-endpoints-tried', message: `the only endpoint ${address}:${port} failed` };
  return { pick: (ctx) => (ctx?.exclude?.has(endpoint.id) ? tried : hit) };
}
