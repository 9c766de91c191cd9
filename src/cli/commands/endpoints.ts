// `weft endpoints [SERVICE]`: the registered instances with address, labels, health and why (and,
// wide, the identity their sidecar proves in mutual TLS); instances whose identity is not their
// service's are flagged below the table.

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
    const list = await api.request<{ items: (InstanceState & { identityStatus?: 'ok' | 'mismatch' | 'missing' })[] }>('GET', `/v1/catalog/instances?${query}`);
    const flagged = list.items.filter((i) => i.identityStatus === 'mismatch' || i.identityStatus === 'missing');
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
          ) +
          // Flagged below the table rather than in a column, so that scripts reading the table keep working.
          flagged
            .map((i) => `! ${i.service}.${i.namespace}/${i.id}: ${i.identityStatus === 'mismatch' ? `identity ${i.identity} is not its service's` : 'no identity'}; ${i.identityStatus === 'mismatch' ? 'receives no mesh traffic' : 'no mesh traffic under STRICT mTLS'} (weft check)\n`)
            .join(''),
    );
    return 0;
  },
};
