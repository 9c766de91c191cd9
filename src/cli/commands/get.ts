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
        : renderTable(['NAMESPACE', 'NAME', 'VERSION', 'AGE'], list.items.map((r) => [r.metadata.namespace, r.metadata.name, r.metadata.resourceVersion ?? '-', age(r.metadata.creationTimestamp)])),
    );
    return 0;
  },
};
