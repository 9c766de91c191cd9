// `weft token create|list|revoke`: admin tokens for people and tools (roles admin, read-only) and
// join tokens for proxies (one service and namespace, expiring). Needs an admin token (WEFT_TOKEN).

import { WeftError } from '../../lib/errors.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, ttlSeconds, type Command } from '../command.ts';
import { outputFormat, print, renderTable, timeLeft } from '../output.ts';

interface TokenRow {
  id: string;
  kind: 'admin' | 'join';
  role?: string;
  service?: string;
  namespace?: string;
  createdAt: string;
  expiresAt?: string;
  description?: string;
  token?: string;
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'Create, list and revoke API tokens (admin and read-only tokens; join tokens for proxies).',
  usage: `Usage: weft token create --role admin|read-only [--ttl DURATION] [--description TEXT]
       weft token create --service NAME [-n NAMESPACE] [--ttl DURATION]   (a join token)
       weft token list [-o table|json|yaml]
       weft token revoke ID

  --role ROLE         admin: everything; read-only: GETs only
  --service NAME      a join token: a proxy of NAME (in NAMESPACE, default "default") gets its
                      first certificate with it (weft run/proxy --join-token or WEFT_JOIN_TOKEN)
  --ttl DURATION      lifetime: seconds or 90s, 30m, 1h, 168h... (join tokens: default 1h;
                      admin tokens: no expiry unless given; at most 720h, 30 days)

create prints the token once, alone on stdout (-o json adds its id and scope); the control plane
keeps only its SHA-256. Needs an admin token in WEFT_TOKEN or --token.`,
  async run(argv) {
    const p = parseCommand(this, argv, {
      ...controlOption,
      ...outputOption,
      role: { type: 'string' },
      service: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      ttl: { type: 'string' },
      description: { type: 'string' },
    });
    if (!p) return 0;
    const [action, id] = p.positionals;
    const api = new ApiClient(controlUrl(p), token(p));
    const format = outputFormat(str(p, 'output'));
    if (action === 'create') {
      const body: Record<string, unknown> = {};
      for (const k of ['role', 'service', 'namespace', 'description']) if (str(p, k) !== undefined) body[k] = str(p, k);
      const ttl = ttlSeconds(str(p, 'ttl'), '--ttl');
      if (ttl !== undefined) body.ttlSeconds = ttl;
      if (body.role === undefined && body.service === undefined) throw new WeftError('WEFT_ERR_CLI_USAGE', `give --role (an admin token) or --service (a join token)\n\n${this.usage}`, 2);
      const created = await api.request<TokenRow>('POST', '/v1/tokens', body);
      if (format === 'json' || format === 'yaml') print(format, created, () => '');
      else process.stdout.write(`${created.token}\n`);
      return 0;
    }
    if (action === 'list') {
      const list = await api.request<{ items: TokenRow[] }>('GET', '/v1/tokens');
      print(format, list, () =>
        list.items.length === 0
          ? 'No tokens.\n'
          : renderTable(
              ['ID', 'KIND', 'SCOPE', 'EXPIRES', 'DESCRIPTION'],
              list.items.map((t) => [t.id, t.kind, t.kind === 'join' ? `${t.service}.${t.namespace}` : t.role ?? '-', t.expiresAt ? timeLeft(t.expiresAt) : 'never', t.description ?? '']),
            ),
      );
      return 0;
    }
    if (action === 'revoke') {
      if (!id) throw new WeftError('WEFT_ERR_CLI_USAGE', `revoke needs a token id (weft token list)\n\n${this.usage}`, 2);
      await api.request('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`token ${id} revoked\n`);
      return 0;
    }
    throw new WeftError('WEFT_ERR_CLI_USAGE', `${action === undefined ? 'an action is required' : `unknown action ${JSON.stringify(action)}`}\n\n${this.usage}`, 2);
  },
};
