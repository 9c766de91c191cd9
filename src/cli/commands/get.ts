// `weft get KIND [NAME]`: lists or shows stored resources (tables, or -o json|yaml to round-trip).

import { WeftError } from '../../lib/errors.ts';
import { findResourceType, resourceTypes } from '../../config/kinds/index.ts';
import type { Resource } from '../../config/resource.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { age, outputFormat, print, renderTable } from '../output.ts';

export function resolveKind(name: string | undefined) {
  if (!name) throw new WeftError('WEFT_ERR_CLI_USAGE', `a resource type is required: ${resourceTypes.map((t) => t.plural).join(', ')}`, 2);
  const type = findResourceType(name);
  if (!type) throw new WeftError('WEFT_ERR_CLI_USAGE', `unknown resource type ${JSON.stringify(name)}; known: ${resourceTypes.map((t) => t.plural).join(', ')}`, 2);
  return type;
}

interface RouteStatusView {
  readonly parents?: readonly { readonly conditions: readonly { type: string; status: string; reason: string }[] }[];
}

/**
 * A route's status in two columns (Gateway API conditions): ACCEPTED is `True` when every parent
 * attached it (else the reason), RESOLVED is `True` when every reference resolves (else the reason).
 */
function routeConditions(r: Resource): [string, string] {
  const parents = (r as Resource & { status?: RouteStatusView }).status?.parents ?? [];
  const column = (type: string): string => {
    const failed = parents.flatMap((p) => p.conditions).find((c) => c.type === type && c.status !== 'True');
    return parents.length === 0 ? '-' : failed ? `False (${failed.reason})` : 'True';
  };
  return [column('Accepted'), column('ResolvedRefs')];
}

export const getCommand: Command = {
  name: 'get',
  summary: 'List resources of a type, or show one.',
  usage: `Usage: weft get TYPE [NAME] [-n NAMESPACE | -A] [-o table|json|yaml]

  TYPE is one of: ${resourceTypes.map((t) => t.plural).join(', ')} (singular and short names work too)`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A' } });
    if (!p) return 0;
    const type = resolveKind(p.positionals[0]);
    const name = p.positionals[1];
    const format = outputFormat(str(p, 'output'));
    const api = new ApiClient(controlUrl(p), token(p));
    const ns = str(p, 'namespace') ?? 'default';
    if (name) {
      const r = await api.request<Resource>('GET', `/v1/resources/${type.plural}/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
      print(format === 'table' || format === 'wide' ? 'yaml' : format, r, () => '');
      return 0;
    }
    const query = p.values['all-namespaces'] ? '' : `?namespace=${encodeURIComponent(ns)}`;
    const list = await api.request<{ items: Resource[] }>('GET', `/v1/resources/${type.plural}${query}`);
    print(format, list, () =>
      list.items.length === 0
        ? `No ${type.plural} found${query ? ` in namespace ${ns}` : ''}.\n`
        : type.kind === 'HTTPRoute' || type.kind === 'GRPCRoute' || type.kind === 'TCPRoute'
          ? renderTable(['NAMESPACE', 'NAME', 'ACCEPTED', 'RESOLVED', 'VERSION', 'AGE'], list.items.map((r) => [r.metadata.namespace, r.metadata.name, ...routeConditions(r), r.metadata.resourceVersion ?? '-', age(r.metadata.creationTimestamp)]))
          : renderTable(['NAMESPACE', 'NAME', 'VERSION', 'AGE'], list.items.map((r) => [r.metadata.namespace, r.metadata.name, r.metadata.resourceVersion ?? '-', age(r.metadata.creationTimestamp)])),
    );
    return 0;
  },
};
