// `weft delete TYPE NAME` or `weft delete -f FILE`: removes resources.

import { WeftError } from '../../lib/errors.ts';
import { resourceTypeForKind } from '../../config/kinds/index.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, parseCommand, str, token, type Command } from '../command.ts';
import { resolveKind } from './get.ts';
import { parseDocuments, readSource } from './apply.ts';

export const deleteCommand: Command = {
  name: 'delete',
  summary: 'Delete resources by type and name, or those listed in a file.',
  usage: `Usage: weft delete TYPE NAME [-n NAMESPACE]
       weft delete -f FILE       ("-" reads stdin)`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, namespace: { type: 'string', short: 'n' }, filename: { type: 'string', short: 'f' } });
    if (!p) return 0;
    const api = new ApiClient(controlUrl(p), token(p));
    const targets: { plural: string; kind: string; namespace: string; name: string }[] = [];
    const file = str(p, 'filename');
    if (file) {
      for (const doc of parseDocuments(await readSource(file), file)) {
        const d = doc as { kind?: string; metadata?: { name?: string; namespace?: string } };
        const type = d.kind ? resourceTypeForKind(d.kind) : undefined;
        if (!type || !d.metadata?.name) throw new WeftError('WEFT_ERR_CLI_USAGE', `${file}: every document needs a known kind and metadata.name`, 2);
        targets.push({ plural: type.plural, kind: type.kind, namespace: d.metadata.namespace ?? 'default', name: d.metadata.name });
      }
    } else {
      const type = resolveKind(p.positionals[0]);
      const name = p.positionals[1];
      if (!name) throw new WeftError('WEFT_ERR_CLI_USAGE', `a name is required\n\n${this.usage}`, 2);
      targets.push({ plural: type.plural, kind: type.kind, namespace: str(p, 'namespace') ?? 'default', name });
    }
    for (const t of targets) {
      await api.request('DELETE', `/v1/resources/${t.plural}/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.name)}`);
      process.stdout.write(`${t.kind.toLowerCase()}/${t.name} deleted\n`);
    }
    return 0;
  },
};
