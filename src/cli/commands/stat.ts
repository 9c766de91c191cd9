// `weft stat [SERVICE]`: the golden signals (success rate, req/s, p50/p95/p99) the control plane
// gathered from the sidecars over the last minute (GET /v1/stats), per service or per edge.

import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { outputFormat, print } from '../output.ts';
import { edgesTable, fetchStats, serviceArg, servicesTable, windowArg } from '../stats-view.ts';
import { WeftError } from '../../lib/errors.ts';

export const statCommand: Command = {
  name: 'stat',
  summary: 'Show success rate, requests per second and latency per service or per edge.',
  usage: `Usage: weft stat [SERVICE] [--edges] [--window SECONDS] [-n NAMESPACE] [-o table|json|yaml]

  SERVICE            NAME or NAME.NAMESPACE: that service, and the calls it makes (its outbound edges)
  --edges            per edge (source → destination, measured by the callers' sidecars) instead of
                     per service; with SERVICE, the edges to and from it
  --window SECONDS   how far back (default 60; at most the control plane's retention, 600)
  -n, --namespace NS the namespace of a SERVICE given without one (default "default")

Services are measured by their own sidecars (inbound), edges by the callers' sidecars (outbound).
A success is a response below 500 that the mesh did not answer itself (no x-weft-reason). Needs
a read-only token. Sidecars report every 5 s, so the numbers trail traffic by up to that much.`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, edges: { type: 'boolean' }, window: { type: 'string' }, namespace: { type: 'string', short: 'n' } });
    if (!p) return 0;
    if (p.positionals.length > 1) throw new WeftError('WEFT_ERR_CLI_USAGE', `one SERVICE at most, got ${p.positionals.length}\n\n${this.usage}`, 2);
    const format = outputFormat(str(p, 'output'));
    const service = p.positionals[0] === undefined ? undefined : serviceArg(p.positionals[0], str(p, 'namespace'));
    const edgesOnly = p.values.edges === true;
    const stats = await fetchStats(new ApiClient(controlUrl(p), token(p)), windowArg(str(p, 'window')), service);
    // With a service and no --edges: the edges it calls out on (the API gives those to and from it).
    const edges = service !== undefined && !edgesOnly ? stats.edges.filter((e) => e.source === service) : stats.edges;
    const shown = { windowSeconds: stats.windowSeconds, generatedAt: stats.generatedAt, services: edgesOnly ? [] : stats.services, edges: edgesOnly || service !== undefined ? edges : [] };
    print(format, edgesOnly || service !== undefined ? shown : { ...shown, edges: stats.edges }, () => {
      const title = `last ${stats.windowSeconds}s`;
      if (edgesOnly) return edges.length === 0 ? `No traffic between services in the ${title}.\n` : edgesTable(edges);
      if (service !== undefined) {
        if (stats.services.length === 0 && edges.length === 0) return `No traffic for ${service} in the ${title} (its sidecars report every few seconds).\n`;
        let out = stats.services.length > 0 ? servicesTable(stats.services) : `${service}: no inbound traffic measured in the ${title}.\n`;
        if (edges.length > 0) out += `\nOutbound from ${service}:\n${edgesTable(edges)}`;
        return out;
      }
      return stats.services.length === 0 ? `No traffic measured in the ${title} (sidecars report every few seconds).\n` : servicesTable(stats.services);
    });
    return 0;
  },
};
