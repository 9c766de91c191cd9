// `weft status`: every proxy with the config version it acknowledged, whether it is in sync, and
// how long its certificate has left (and, with replicas on etcd, which replica it is connected to).

import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { age, outputFormat, print, renderTable, timeLeft } from '../output.ts';

interface ProxyRow {
  id: string;
  service: string;
  namespace: string;
  connected: boolean;
  connectedAt: string;
  currentVersion?: string;
  ackedVersion?: string;
  nackedVersion?: string;
  nackErrors?: { path: string; message: string }[];
  inSync: boolean;
  /** The certificate the CA last issued this proxy. */
  certificate?: { identity: string; serial: string; notAfter: string };
  /** Replicas on etcd: the control plane its stream is on. */
  replica?: string;
}

function state(p: ProxyRow): string {
  if (!p.connected) return 'DISCONNECTED';
  if (p.nackedVersion) return `REJECTED v${p.nackedVersion}`;
  return p.inSync ? 'SYNCED' : 'STALE';
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show every proxy and the config version it acknowledged.',
  usage: 'Usage: weft status [-o table|json|yaml]',
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption });
    if (!p) return 0;
    const format = outputFormat(str(p, 'output'));
    const api = new ApiClient(controlUrl(p), token(p));
    const list = await api.request<{ items: ProxyRow[] }>('GET', '/v1/proxies');
    print(format, list, () => {
      if (list.items.length === 0) return 'No proxies connected.\n';
      // Replicas on etcd: which one each proxy's stream is on (every replica lists every proxy).
      const replicas = list.items.some((x) => x.replica !== undefined);
      let out = renderTable(
        ['PROXY', 'SERVICE', 'STATUS', 'ACKED', 'CURRENT', 'CONNECTED', 'CERT', ...(replicas ? ['REPLICA'] : [])],
        list.items.map((x) => [x.id, `${x.service}.${x.namespace}`, state(x), x.ackedVersion ?? '-', x.currentVersion ?? '-', x.connected ? age(x.connectedAt) : '-', timeLeft(x.certificate?.notAfter), ...(replicas ? [x.replica ?? '-'] : [])]),
      );
      for (const x of list.items) if (x.nackErrors?.length) out += `\n${x.id} rejected v${x.nackedVersion}:\n${x.nackErrors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}\n`;
      return out;
    });
    return 0;
  },
};
