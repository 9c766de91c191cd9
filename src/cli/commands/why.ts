// `weft why REQUEST-ID`: the fate of one recent request, told by the sidecars that carried it. The
// CLI asks the (authenticated) control plane (GET /v1/requests/{id}), which asks every connected
// sidecar's admin listener; `--proxy HOST:PORT` asks named admin listeners directly instead.

import { hopOrder, RINGS_IN_WORDS, type FateView, type RequestFates, type UnreachableProxy } from '../../config/fate-view.ts';
import { WeftError } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import { adminAddress } from '../../lib/admin-address.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { outputFormat, print } from '../output.ts';

interface ProxyEntry {
  readonly id: string;
  readonly remote: string;
  readonly connected: boolean;
  readonly admin?: string;
}

/** What `-o json` prints: GET /v1/requests/{id}'s answer (the fates in the order they began). */
export type WhyAnswer = RequestFates;

async function askAdmin(address: string, requestId: string): Promise<FateView[]> {
  const res = await httpCall(`http://${address}/fates?id=${encodeURIComponent(requestId)}`, { method: 'GET', timeoutMs: 3_000 });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`admin answered ${res.status}`);
  return (JSON.parse(res.body) as { items: FateView[] }).items;
}

/** Asks admin listeners directly (`--proxy`, or a control plane older than GET /v1/requests). */
async function askDirectly(targets: readonly { name: string; address: string | undefined }[], requestId: string): Promise<WhyAnswer> {
  const unreachable: UnreachableProxy[] = [];
  const answers = await Promise.all(targets.map(async (t) => {
    if (t.address === undefined) {
      unreachable.push({ proxy: t.name, error: 'it did not report an admin listener (a proxy older than weft why)' });
      return [];
    }
    return askAdmin(t.address, requestId).catch((err: Error) => {
      unreachable.push({ proxy: t.name, error: `${t.address}: ${err.message}` });
      return [] as FateView[];
    });
  }));
  const items = answers.flat().sort(hopOrder);
  return { requestId, items, asked: targets.length, unreachable };
}

/**
 * The fates of a request: from the named admin listeners (`proxies`, HOST:PORT) when any are given,
 * else from the control plane (GET /v1/requests/{id}); a control plane without that route
 * (WEFT_ERR_API_NOT_FOUND) is asked for its proxies, whose admin listeners are then asked directly.
 * Throws WEFT_ERR_CLI_NOT_FOUND when the control plane holds no fate for the id, and the API's
 * errors (unreachable, refused) as they come.
 */
export async function findFates(requestId: string, o: { control: string; token: string | undefined; proxies: readonly string[] }): Promise<WhyAnswer> {
  if (o.proxies.length > 0) return askDirectly(o.proxies.map((a) => ({ name: a, address: a })), requestId);
  const api = new ApiClient(o.control, o.token);
  try {
    return await api.request<WhyAnswer>('GET', `/v1/requests/${encodeURIComponent(requestId)}`);
  } catch (err) {
    // The control plane found no fate: it says so, naming what it asked.
    if (err instanceof WeftError && err.code === 'WEFT_ERR_API_REQUEST_NOT_FOUND') throw new WeftError('WEFT_ERR_CLI_NOT_FOUND', err.message, 1);
    // A control plane older than GET /v1/requests: ask the sidecars it lists, as weft why did before.
    if (!(err instanceof WeftError && err.code === 'WEFT_ERR_API_NOT_FOUND')) throw err;
    const list = await api.request<{ items: ProxyEntry[] }>('GET', '/v1/proxies');
    return askDirectly(list.items.filter((x) => x.connected).map((x) => ({ name: x.id, address: adminAddress(x) })), requestId);
  }
}

const ms = (x: number): string => `${x < 10 ? x.toFixed(1) : Math.round(x)}ms`;

/** The story of one fate, in lines for people. */
export function describeFate(f: FateView): string {
  const lines: string[] = [];
  const arrow = `${f.source.service} → ${f.destination.service}`;
  lines.push(`${f.proxy} ${f.direction} ${arrow}: ${f.method} ${f.authority}${f.path} → ${f.inFlight ? 'in flight' : f.status}${f.reason ? ` ${f.reason}` : ''} in ${ms(f.durationMs)} (${f.time})`);
  if (f.source.identity || f.destination.identity) lines.push(`  identities: ${f.source.identity ?? 'plaintext caller'} → ${f.destination.identity ?? '-'}`);
  if (f.traceId) lines.push(`  trace: ${f.traceId} span ${f.spanId ?? '-'}${f.parentSpanId ? ` parent ${f.parentSpanId}` : ''}${f.sampled ? ' (sampled)' : ''}`);
  if (f.route) lines.push(`  route: ${f.route} rule ${f.rule ?? '-'} matched`);
  else if (f.direction === 'outbound' && f.destination.service !== 'unknown') lines.push(`  route: none attached; the Service's own endpoints`);
  if (f.filters.length) lines.push(`  filters: ${f.filters.join(' → ')}${f.reason === undefined || f.attempts.length ? ': passed' : ''}`);
  for (const d of f.decisions) lines.push(`  decision: ${d}`);
  f.attempts.forEach((a, i) => {
    const outcome = a.failure ? `failed: ${a.failure}${a.detail ? ` (${a.detail})` : ''}${a.status ? `, answered ${a.status}` : ''}` : `answered ${a.status}`;
    lines.push(`  attempt ${i + 1}: ${a.endpoint}${a.identity ? ` (${a.identity})` : ''} ${outcome} after ${ms(a.durationMs)}`);
  });
  if (f.attempts.length === 0 && !f.inFlight && f.direction === 'outbound' && f.reason) lines.push('  no endpoint was tried');
  if (f.reason) lines.push(`  local reply: ${f.status} ${f.reason}${f.message ? ` — ${f.message}` : ''}`);
  return lines.join('\n') + '\n';
}

export const whyCommand: Command = {
  name: 'why',
  summary: 'Tell the fate of a recent request: route, policy decisions, endpoints tried, local reply.',
  usage: 'Usage: weft why REQUEST-ID [--proxy HOST:PORT]... [-o table|json|yaml]',
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, proxy: { type: 'string', multiple: true } });
    if (!p) return 0;
    const requestId = p.positionals[0];
    if (!requestId || p.positionals.length > 1) throw new WeftError('WEFT_ERR_CLI_USAGE', `one request id is required (the x-request-id of the request)\n\n${this.usage}`, 2);
    const format = outputFormat(str(p, 'output'));
    const answer = await findFates(requestId, { control: controlUrl(p), token: token(p), proxies: (p.values.proxy as string[] | undefined) ?? [] });
    const { items, unreachable } = answer;
    if (items.length === 0) {
      // Only direct asks get here (the control plane answers 404 instead): say so in the same words.
      if (format === 'json' || format === 'yaml') print(format, answer, () => '');
      const asked = answer.asked === 1 ? '1 sidecar' : `${answer.asked} sidecars`;
      throw new WeftError('WEFT_ERR_CLI_NOT_FOUND', `no sidecar holds a fate for request ${requestId} (asked ${asked}${unreachable.length ? `, ${unreachable.length} not reachable` : ''}): the id is unknown, or the request has left the rings (${RINGS_IN_WORDS})`, 1);
    }
    print(format, answer, () =>
      `request ${requestId}: ${items.length} hop${items.length === 1 ? '' : 's'}\n` +
      items.map(describeFate).join('') +
      unreachable.map((u) => `! ${u.proxy} could not be asked: ${u.error}\n`).join(''),
    );
    return 0;
  },
};
