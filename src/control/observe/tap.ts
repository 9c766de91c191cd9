// GET /v1/tap: one live NDJSON stream of a service's requests, merged from the admin /tap streams
// of its connected sidecars (proxy/admin/tap-stream.ts), for `weft tap`. The control plane only
// relays lines; when its reader goes away, every sidecar stream it opened is closed with it.

import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../lib/node-http.ts';
import { WeftError, invalid } from '../../lib/errors.ts';
import type { Clock, Timer } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { rowTargets, type AdminRow } from './fate-lookup.ts';
import { NDJSON, parseTapQuery, tapQueryString, type TapProxyLine, type TapQuery, type TapStartLine } from '../../config/tap.ts';
import type { ProxyRegistry } from '../stream/proxy-registry.ts';
import type { ProxyRow } from '../stream/proxy-rows.ts';

export const TAP_PATH = '/v1/tap';

export interface TapDeps {
  readonly proxies: ProxyRegistry;
  /** Replicas on etcd: the proxies whose stream is on another replica (the rows they publish). */
  readonly otherProxies?: () => Promise<readonly ProxyRow[]>;
  readonly clock: Clock;
  readonly log: Logger;
  /** How often the tap looks for sidecars of the service that connected after it began (ms). */
  readonly pollMs?: number;
  /** How long a sidecar's admin listener has to answer the tap request (ms). */
  readonly attachTimeoutMs?: number;
}

/** A sidecar to tap, from this replica's registry or another replica's published row. */
interface TapSidecar extends AdminRow {
  /** When its stream connected (ms or ISO 8601): a reconnected sidecar is tried again. */
  readonly connectedAt: number | string;
}

/** The connected sidecars of `service` on every replica, this replica's own first, each once. */
async function sidecarsOf(deps: TapDeps, service: string, namespace: string): Promise<TapSidecar[]> {
  const own: TapSidecar[] = deps.proxies
    .list(deps.clock.now())
    .filter((p) => p.connected && p.node.service === service && p.node.namespace === namespace)
    .map((p) => ({ id: p.node.id, admin: p.node.adminAddress, remote: p.remote, connected: true, connectedAt: p.connectedAt }));
  if (deps.otherProxies === undefined) return own;
  const seen = new Set(own.map((p) => p.id));
  const others = (await deps.otherProxies()).filter((r) => r.connected && r.service === service && r.namespace === namespace && !seen.has(r.id));
  return [...own, ...others.map((r) => ({ id: r.id, admin: r.admin, remote: r.remote, connected: true, connectedAt: r.connectedAt }))];
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A sidecar line longer than this is not one the sidecar writes: its stream is dropped. */
const MAX_LINE = 64 * 1024;

/**
 * The query of GET /v1/tap: `service` (required) and `namespace` (default `default`), plus the tap's
 * own parameters (config/tap.ts). A problem is a 400 WEFT_ERR_API_BAD_REQUEST naming the parameter.
 */
export function tapRequest(url: URL): { service: string; namespace: string; query: TapQuery } {
  const parsed = parseTapQuery(url.searchParams, ['service', 'namespace']);
  const errors = parsed.ok ? [] : [...parsed.errors];
  const service = url.searchParams.get('service');
  if (service === null) errors.push({ path: 'service', message: 'is required (the service whose sidecars to tap)' });
  else if (!NAME.test(service)) errors.push({ path: 'service', message: `must be a service name (a DNS label), got ${JSON.stringify(service.slice(0, 80))}` });
  const namespace = url.searchParams.get('namespace') ?? 'default';
  if (!NAME.test(namespace)) errors.push({ path: 'namespace', message: `must be a namespace name (a DNS label), got ${JSON.stringify(namespace.slice(0, 80))}` });
  if (!parsed.ok || errors.length > 0) throw invalid('WEFT_ERR_API_BAD_REQUEST', `invalid tap: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  return { service: service!, namespace, query: parsed.value };
}

/** Each sidecar's share of the rate: the tap's maxRps divided among the sidecars tapped (as Linkerd does). */
export function shareOf(maxRps: number, sidecars: number): number {
  return Math.max(0.000001, Math.round((maxRps / Math.max(1, sidecars)) * 1e6) / 1e6);
}

/**
 * Serves one tap on `res`. Before any byte is sent: 400 for a bad query, 404
 * WEFT_ERR_TAP_NO_SIDECARS when the service has no connected sidecar, 503 WEFT_ERR_TAP_UNAVAILABLE
 * when none of them could be tapped (each one's reason in the message). Then a 200 NDJSON stream: a
 * `tapping` line, the sidecars' `request` and `dropped` lines as they come, and `attached` /
 * `detached` lines as sidecars join or leave. Resolves once the stream is under way.
 */
export async function serveTap(_req: IncomingMessage, res: ServerResponse, url: URL, deps: TapDeps): Promise<void> {
  const { service, namespace, query } = tapRequest(url);
  const sidecars = (): Promise<TapSidecar[]> => sidecarsOf(deps, service, namespace);
  const initial = await sidecars();
  if (initial.length === 0) {
    throw new WeftError('WEFT_ERR_TAP_NO_SIDECARS', `service ${service} in namespace ${namespace} has no connected sidecar to tap (weft status lists the connected proxies)`, 404);
  }
  const fanIn = new TapFanIn(res, query, deps);
  const results = await Promise.all(initial.map((p) => fanIn.attach(p, shareOf(query.maxRps, initial.length))));
  const unreachable = initial.flatMap((p, i) => (results[i] === undefined ? [] : [{ proxy: p.id, error: results[i] }]));
  if (unreachable.length === initial.length) {
    fanIn.close();
    throw new WeftError('WEFT_ERR_TAP_UNAVAILABLE', `no sidecar of ${service} in namespace ${namespace} could be tapped: ${unreachable.map((u) => `${u.proxy}: ${u.error}`).join('; ')}`, 503);
  }
  if (res.destroyed) return fanIn.close();
  res.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
  const start: TapStartLine = { type: 'tapping', service, namespace, proxies: initial.filter((_, i) => results[i] === undefined).map((p) => p.id), unreachable };
  fanIn.start(JSON.stringify(start), sidecars);
}

interface Upstream {
  readonly request: ClientRequest;
  response?: IncomingMessage;
}

/** The sidecar streams of one tap, written into one response, line by line. */
class TapFanIn {
  readonly #res: ServerResponse;
  readonly #query: TapQuery;
  readonly #deps: TapDeps;
  readonly #upstreams = new Map<string, Upstream>();
  /** Sidecar streams already tried (proxy id and when it connected): a refusal is not retried every poll. */
  readonly #tried = new Set<string>();
  #closed = false;
  #paused = false;
  #poll: Timer | undefined;

  constructor(res: ServerResponse, query: TapQuery, deps: TapDeps) {
    this.#res = res;
    this.#query = query;
    this.#deps = deps;
    res.once('close', () => this.close());
  }

  /** Opens the sidecar's admin /tap at `maxRps`; resolves undefined once it streams, else why not. */
  attach(p: TapSidecar, maxRps: number): Promise<string | undefined> {
    const id = p.id;
    this.#tried.add(`${id}@${p.connectedAt}`);
    // Where to call it, as request lookups do (a wildcard bind at its remote host; not a loopback one of another host).
    const { address, why } = rowTargets([p])[0] ?? { address: undefined, why: 'it is no longer connected' };
    if (address === undefined) return Promise.resolve(why ?? 'it did not report an admin listener (a sidecar older than weft tap)');
    const target = new URL(`http://${address}/tap?${tapQueryString({ ...this.#query, maxRps })}`);
    return new Promise((resolve) => {
      const request = http.request(target, { method: 'GET', agent: false });
      const upstream: Upstream = { request };
      this.#upstreams.set(id, upstream);
      let settled = false;
      const settle = (error: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== undefined) {
          this.#upstreams.delete(id);
          request.destroy();
        }
        resolve(error);
      };
      const timeoutMs = this.#deps.attachTimeoutMs ?? 5_000;
      const timer = setTimeout(() => settle(`its admin listener ${target.host} did not answer within ${timeoutMs}ms`), timeoutMs);
      request.on('error', (err) => {
        if (!settled) settle(`${target.host}: ${err.message}`);
        else this.#detach(id, upstream, err.message);
      });
      request.on('response', (response) => {
        if (response.statusCode === 200) {
          upstream.response = response;
          // Until #pipe listens, a sidecar that dies must not take the control plane with it.
          response.on('error', () => {});
          return settle(undefined);
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (c: string) => (body.length < 4096 ? (body += c) : undefined));
        response.on('end', () => {
          let message = body.trim().slice(0, 300);
          try {
            message = (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? message;
          } catch {
            // not JSON: the text as it came
          }
          settle(`its admin listener answered ${response.statusCode}: ${message}`);
        });
        response.on('error', () => settle(`its admin listener answered ${response.statusCode}`));
      });
      request.end();
    });
  }

  /** Writes the first line, starts relaying every attached stream, and looks for new sidecars from now on. */
  start(first: string, sidecars: () => Promise<TapSidecar[]>): void {
    this.#write(first);
    for (const [id, u] of this.#upstreams) this.#pipe(id, u);
    const pollMs = this.#deps.pollMs ?? 2_000;
    const poll = async (): Promise<void> => {
      if (this.#closed) return;
      let now: TapSidecar[] = [];
      try {
        now = await sidecars();
      } catch (err) {
        // Another replica's rows could not be read (etcd away): look again at the next poll.
        this.#deps.log.debug('tap: cannot list sidecars', { err: err instanceof Error ? err.message : String(err) });
      }
      if (this.#closed) return;
      for (const p of now) {
        if (this.#upstreams.has(p.id) || this.#tried.has(`${p.id}@${p.connectedAt}`)) continue;
        void this.attach(p, shareOf(this.#query.maxRps, now.length)).then((error) => {
          if (this.#closed) return;
          const line: TapProxyLine = error === undefined ? { type: 'attached', proxy: p.id } : { type: 'detached', proxy: p.id, error };
          this.#write(JSON.stringify(line));
          const u = this.#upstreams.get(p.id);
          if (error === undefined && u !== undefined) this.#pipe(p.id, u);
        });
      }
      this.#poll = this.#deps.clock.setTimeout(() => void poll(), pollMs);
    };
    this.#poll = this.#deps.clock.setTimeout(() => void poll(), pollMs);
  }

  #pipe(id: string, u: Upstream): void {
    const response = u.response!;
    let partial = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      if (partial.length > MAX_LINE) return this.#detach(id, u, `sent a line longer than ${MAX_LINE} bytes`);
      for (const line of lines) if (line.startsWith('{')) this.#write(line);
    });
    response.on('end', () => this.#detach(id, u, 'its stream ended (the sidecar stopped?)'));
    // Node says only "aborted" when the sidecar's connection drops mid-stream (a kill, a crash).
    response.on('error', (err) => this.#detach(id, u, `its stream broke (${err.message}): the sidecar stopped, or the connection to it was cut`));
    if (this.#paused) response.pause();
  }

  #detach(id: string, u: Upstream, error: string): void {
    if (this.#upstreams.get(id) !== u) return;
    this.#upstreams.delete(id);
    u.request.destroy();
    if (!this.#closed) this.#write(JSON.stringify({ type: 'detached', proxy: id, error } satisfies TapProxyLine));
  }

  /** One line to the reader; a full socket pauses every sidecar stream until it drains (they then drop, counted). */
  #write(line: string): void {
    if (this.#closed || this.#res.destroyed) return;
    if (this.#res.write(line + '\n') || this.#paused) return;
    this.#paused = true;
    for (const u of this.#upstreams.values()) u.response?.pause();
    this.#res.once('drain', () => {
      this.#paused = false;
      for (const u of this.#upstreams.values()) u.response?.resume();
    });
  }

  /** The reader went away (or the tap could not start): every sidecar stream is closed now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll?.cancel();
    for (const u of this.#upstreams.values()) u.request.destroy();
    this.#upstreams.clear();
    this.#deps.log.debug('tap closed');
  }
}
