// `weft tap SERVICE`: a live, rate-limited stream of a service's requests, as its sidecars finish
// them (GET /v1/tap, relayed by the control plane from each sidecar's admin /tap). One aligned line
// a request, or NDJSON with -o json; Ctrl-C or --count N stops it cleanly (exit 0).

import { WeftError } from '../../lib/errors.ts';
import { TAP_DEFAULT_MAX_RPS, parseTapQuery, type TapLine, type TapRequestEvent } from '../../config/tap.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, int, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { serviceArg } from '../stats-view.ts';
import { createLineSplitter } from '../../config/stream-protocol.ts';

/** The flag behind each tap query parameter, for usage errors. */
const FLAG_OF: Readonly<Record<string, string>> = { maxRps: '--max-rps', method: '--method', pathPrefix: '--path', authority: '--authority', direction: '--direction', to: '--to' };

/** The column heads of the table form (tapLine's columns). */
export const TAP_HEADER = `${'TIME'.padEnd(12)}  ${'DIR'.padEnd(3)}  ${'METHOD'.padEnd(7)}  ${'STATUS'.padEnd(6)}  ${'LATENCY'.padStart(9)}  ${'AUTHORITY+PATH'.padEnd(32)}  ${'ROUTE'.padEnd(24)}  ${'ENDPOINT'.padEnd(21)}  ${'REASON'.padEnd(18)}  PROXY / REQUEST ID`;

const latency = (ms: number): string => (ms < 10 ? `${ms.toFixed(2)}ms` : ms < 1000 ? `${ms.toFixed(1)}ms` : `${(ms / 1000).toFixed(2)}s`);

/** One request in the table form: fixed-width columns (a stream cannot size them from its rows). */
export function tapLine(e: TapRequestEvent): string {
  const route = e.route === undefined ? '-' : `${e.route}${e.rule !== undefined ? `#${e.rule}` : ''}`;
  const endpoint = e.endpoint === undefined ? '-' : `${e.endpoint}${e.attempts > 1 ? ` (${e.attempts} tries)` : ''}`;
  return [
    e.time.slice(11, 23).padEnd(12),
    (e.direction === 'inbound' ? 'in' : 'out').padEnd(3),
    e.method.padEnd(7),
    String(e.status).padEnd(6),
    latency(e.latencyMs).padStart(9),
    `${e.authority}${e.path}`.padEnd(32),
    route.padEnd(24),
    endpoint.padEnd(21),
    (e.reason ?? '-').padEnd(18),
    `${e.proxy} ${e.requestId}`,
  ].join('  ');
}

/** What a control line says, for stderr (undefined: a request, printed on stdout). */
export function tapNotice(l: TapLine): string | undefined {
  switch (l.type) {
    case 'tapping': {
      const n = l.proxies.length;
      let out = `tapping ${n} sidecar${n === 1 ? '' : 's'} of ${l.service} (namespace ${l.namespace})… Ctrl-C to stop\n`;
      for (const u of l.unreachable) out += `! ${u.proxy} cannot be tapped: ${u.error}\n`;
      return out;
    }
    case 'dropped':
      return `(${l.dropped} request${l.dropped === 1 ? '' : 's'} of ${l.proxy} over --max-rps, or while the terminal was slow, not shown)\n`;
    case 'attached':
      return `${l.proxy} connected: tapping it too\n`;
    case 'detached':
      return `! ${l.proxy} is no longer tapped${l.error ? `: ${l.error}` : ''}\n`;
    default:
      return undefined;
  }
}

export const tapCommand: Command = {
  name: 'tap',
  summary: 'Watch a service\'s requests live, as its sidecars finish them (rate-limited).',
  usage: `Usage: weft tap SERVICE [-n NAMESPACE] [--max-rps N] [--method M] [--path PREFIX]
                [--authority HOST[:PORT]] [--to SERVICE] [--direction inbound|outbound]
                [--count N] [-o table|json]

  SERVICE             NAME or NAME.NAMESPACE: the service whose sidecars to tap
  -n, --namespace NS  the namespace of a SERVICE given without one (default "default")
  --max-rps N         requests shown per second at most, across its sidecars (default ${TAP_DEFAULT_MAX_RPS});
                      the others are counted and reported on stderr
  --method M          only requests with this method (GET, POST, …)
  --path PREFIX       only requests whose path starts with PREFIX
  --authority A       only requests with this :authority (Host), exactly
  --to SERVICE        only requests to this service (NAME or NAME.NAMESPACE)
  --direction D       only inbound (to the service) or outbound (made by it) requests
  --count N           stop after N requests
  -o json             one JSON object a request (NDJSON) instead of aligned columns

Each line is a request the sidecar has finished: when it arrived, direction, method, status,
latency, authority and path, the route and rule that matched, the endpoint tried last, the mesh's
own reason (x-weft-reason) when it answered itself, the sidecar and the request id (weft why ID).
Notices (which sidecars are tapped, how many requests were not shown) go to stderr. Stops on
Ctrl-C or after --count, exit 0. Needs a read-only token.`,
  async run(argv) {
    const p = parseCommand(this, argv, {
      ...controlOption,
      ...outputOption,
      namespace: { type: 'string', short: 'n' },
      'max-rps': { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string' },
      authority: { type: 'string' },
      to: { type: 'string' },
      direction: { type: 'string' },
      count: { type: 'string' },
    });
    if (!p) return 0;
    if (p.positionals.length !== 1) throw new WeftError('WEFT_ERR_CLI_USAGE', `one SERVICE is required\n\n${this.usage}`, 2);
    const output = str(p, 'output') ?? 'table';
    if (output !== 'table' && output !== 'json') throw new WeftError('WEFT_ERR_CLI_USAGE', `-o must be table or json, got ${JSON.stringify(output)}`, 2);
    const count = int(p, 'count');
    if (count === 0) throw new WeftError('WEFT_ERR_CLI_USAGE', '--count must be at least 1', 2);
    const [service, namespace] = serviceArg(p.positionals[0], str(p, 'namespace')).split('.');
    const params = new URLSearchParams({ service, namespace });
    const flags: [string, string | undefined][] = [['maxRps', str(p, 'max-rps')], ['method', str(p, 'method')], ['pathPrefix', str(p, 'path')], ['authority', str(p, 'authority')], ['to', str(p, 'to')], ['direction', str(p, 'direction')]];
    for (const [name, value] of flags) if (value !== undefined) params.set(name, value);
    // The control plane checks them too; here a mistake is a usage error naming the flag.
    const checked = parseTapQuery(params, ['service', 'namespace']);
    if (!checked.ok) {
      throw new WeftError('WEFT_ERR_CLI_USAGE', `${checked.errors.map((e) => `${FLAG_OF[e.path] ?? e.path} ${e.message}`).join('; ')}\n\n${this.usage}`, 2);
    }
    return tap(new ApiClient(controlUrl(p), token(p)), `/v1/tap?${params}`, output === 'json', count);
  },
};

/** Reads the stream until Ctrl-C, --count or its end; 0 when the user stopped it, 1 when the control plane did. */
async function tap(api: ApiClient, path: string, json: boolean, count: number | undefined): Promise<number> {
  const abort = new AbortController();
  let stoppedByUser = false;
  const stop = (): void => {
    stoppedByUser = true;
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A reader that went away (`weft tap … | head`) stops the tap like Ctrl-C.
  const onStdoutError = (): void => stop();
  process.stdout.on('error', onStdoutError);
  let shown = 0;
  try {
    const res = await api.open(path, abort.signal);
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    let done = false;
    const onLine = (text: string): void => {
      if (done) return;
      let line: TapLine;
      try {
        line = JSON.parse(text) as TapLine;
      } catch {
        return;
      }
      const notice = tapNotice(line);
      if (notice !== undefined) {
        process.stderr.write(notice);
        if (line.type === 'tapping' && !json) process.stdout.write(TAP_HEADER + '\n');
      } else if (line.type === 'request') {
        process.stdout.write((json ? JSON.stringify(line) : tapLine(line)) + '\n');
        if (count !== undefined && ++shown >= count) done = true;
      }
    };
    const split = createLineSplitter(onLine);
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      split(decoder.decode(chunk.value, { stream: true }));
    }
    if (done) {
      stop();
      return 0;
    }
    process.stderr.write('the control plane ended the tap (it stopped, or restarted)\n');
    return 1;
  } catch (err) {
    if (stoppedByUser) return 0;
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', onStdoutError);
    abort.abort();
  }
}
