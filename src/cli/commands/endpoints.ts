// `weft endpoints [SERVICE]`: the registered instances with address, labels, health and why (and,
// wide, the identity their sidecar proves in mutual TLS).

import type { InstanceState } from '../../config/catalog-types.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { age, outputFormat, print, renderTable } from '../output.ts';

export const endpointsCommand: Command = {
  name: 'endpoints',
  summary: 'List service instances with their address, labels and health.',
  usage: 'Usage: weft endpoints [SERVICE] [-n NAMESPACE] [-o table|wide|json|yaml]',
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, namespace: { type: 'string', short: 'n' } });
    if (!p) return 0;
    const format = outputFormat(str(p, 'output'));
    const query = new URLSearchParams();
    if (p.positionals[0]) query.set('service', p.positionals[0]);
    if (str(p, 'namespace')) query.set('namespace', str(p, 'namespace')!);
    const api = new ApiClient(controlUrl(p), token(p));
    const list = await api.request<{ items: InstanceState[] }>('GET', `/v1/catalog/instances?${query}`);
    const now = Date.now();
    print(format, list, () =>
      list.items.length === 0
        ? 'No instances registered.\n'
        : renderTable(
            ['SERVICE', 'ID', 'ADDRESS', 'LABELS', 'WEIGHT', 'HEALTH', 'HEARTBEAT', ...(format === 'wide' ? ['IDENTITY', 'WHY'] : [])],
            list.items.map((i) => [
              `${i.service}.${i.namespace}`,
              i.id,
              i.ports.map((x) => `${i.address}:${x.targetPort}`).join(','),
              Object.entries(i.labels).filter(([k]) => k !== 'app').map(([k, v]) => `${k}=${v}`).join(',') || '-',
              String(i.weight),
              i.health,
              i.ttlSeconds ? `${age(i.lastHeartbeat, now)} ago` : '-',
              ...(format === 'wide' ? [i.identity ?? 'none (plaintext)', i.healthReason] : []),
            ]),
          ),
    );
    return 0;
  },
};
