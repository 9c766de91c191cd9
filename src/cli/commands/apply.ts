// `weft apply -f FILE`: creates or updates resources from YAML or JSON (several documents allowed;
// `-` reads stdin). All documents are validated by the control plane before any is written.

import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { WeftError } from '../../lib/errors.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, parseCommand, str, token, type Command } from '../command.ts';
import { outputFormat, print } from '../output.ts';
import { outputOption } from '../command.ts';

/** A file's text, or stdin for `-`; a missing file is a clear error, not a stack trace. */
export async function readSource(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new WeftError('WEFT_ERR_CLI_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
  }
}

/**
 * Aliases one document may expand (the `yaml` package's maxAliasCount): real resources use a few,
 * an alias bomb ("billion laughs") needs thousands to grow exponentially.
 */
export const MAX_YAML_ALIASES = 100;

/**
 * Parses YAML (JSON is YAML) into documents; a `kind: List` contributes its items. Raises
 * WEFT_ERR_CLI_PARSE for invalid YAML and WEFT_ERR_CLI_YAML_ALIASES for a document whose aliases
 * expand past MAX_YAML_ALIASES, each naming the file, line and column, and the document.
 */
export function parseDocuments(text: string, file: string): unknown[] {
  const lineCounter = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(text, { lineCounter });
  const out: unknown[] = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) {
      const e = doc.errors[0];
      const line = e.linePos?.[0];
      throw new WeftError('WEFT_ERR_CLI_PARSE', `${file}${line ? `:${line.line}:${line.col}` : ''}: document ${i + 1} is not valid YAML: ${e.message.split('\n')[0]}`, 1);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (err) {
      // The yaml package raises a ReferenceError for too many (or unresolvable) aliases: bad
      // input, said as such, never a stack trace. Where: the document's first alias.
      if (!(err instanceof ReferenceError)) throw err;
      let at: { line: number; col: number } | undefined;
      YAML.visit(doc, {
        Alias(_key, node) {
          if (node.range) at = lineCounter.linePos(node.range[0]);
          return YAML.visit.BREAK;
        },
      });
      throw new WeftError('WEFT_ERR_CLI_YAML_ALIASES', `${file}${at ? `:${at.line}:${at.col}` : ''}: document ${i + 1} expands its aliases more than ${MAX_YAML_ALIASES} times (an alias bomb?); write the values out instead`, 1);
    }
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && (value as { kind?: string }).kind === 'List' && Array.isArray((value as { items?: unknown }).items)) out.push(...(value as { items: unknown[] }).items);
    else out.push(value);
  });
  return out;
}

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Create or update mesh resources from a file.',
  usage: `Usage: weft apply -f FILE [-o table|json|yaml]

  -f, --filename FILE   YAML or JSON, one or more documents ("-" for stdin)`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, filename: { type: 'string', short: 'f' } });
    if (!p) return 0;
    const file = str(p, 'filename');
    if (!file) throw new WeftError('WEFT_ERR_CLI_USAGE', `-f FILE is required\n\n${this.usage}`, 2);
    const format = outputFormat(str(p, 'output'));
    const items = parseDocuments(await readSource(file), file);
    if (items.length === 0) throw new WeftError('WEFT_ERR_CLI_EMPTY', `${file} holds no resources`, 1);
    const api = new ApiClient(controlUrl(p), token(p));
    const result = await api.request<{ items: { kind: string; namespace: string; name: string; applied: string; resourceVersion: string }[] }>('POST', '/v1/apply', { items });
    print(format, result, () => result.items.map((r) => `${r.kind.toLowerCase()}/${r.name} ${r.applied}${r.namespace !== 'default' ? ` (namespace ${r.namespace})` : ''}\n`).join(''));
    return 0;
  },
};
