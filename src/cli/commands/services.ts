// `weft services`: every service of the mesh with its ports and how many instances pass health.

import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { outputFormat, print, renderTable } from '../output.ts';

interface ServiceRow {
  name: string;
  namespace: string;
  ports: { name: string; port: number; protocol: string }[];
  instances: number;
  passing: number;
}

export const servicesCommand: Command = {
  name: 'services',
  summary: 'List the services of the mesh and their health.',
  usage: 'Usage: weft services [-n NAMESPACE] [-o table|json|yaml]',
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, namespace: { type: 'string', short: 'n' } });
    if (!p) return 0;
    const format = outputFormat(str(p, 'output'));
    const ns = str(p, 'namespace');
    const api = new ApiClient(controlUrl(p), token(p));
    const list = await api.request<{ items: ServiceRow[] }>('GET', `/v1/catalog/services${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`);
    print(format, list, () =>
      list.items.length === 0
        ? 'No services registered.\n'
        : renderTable(['NAMESPACE', 'NAME', 'PORTS', 'INSTANCES', 'HEALTHY'], list.items.map((s) => [s.namespace, s.name, s.ports.map((x) => `${x.port}/${x.protocol}`).join(',') || '-', String(s.instances), `${s.passing}/${s.instances}`])),
    );
    return 0;
  },
};
