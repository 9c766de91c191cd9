// The route table of one service port: the HTTPRoutes and GRPCRoutes of the snapshot compiled once
// (matchers pre-built, regular expressions compiled, rules in Gateway API precedence order), so the
// hot path only walks a sorted list and picks a weighted backend. A new snapshot builds a new table.

import type { RouteBackendSnapshot, RouteRuleSnapshot, RouteSnapshot } from '../../config/snapshot-types.ts';
import type { HTTPRouteMatch } from '../../config/kinds/http-route.ts';
import type { GRPCRouteMatch } from '../../config/kinds/grpc-route.ts';
import { compileFullMatch, type HeaderMatch } from '../../config/kinds/route-common.ts';

/** What matching reads of a request. `path` is the normalized origin-form target, query included. */
export interface RouteRequest {
  readonly method: string;
  readonly path: string;
  /** A header's value (lower-case name; repeated fields joined with ", "), or undefined. */
  header(name: string): string | undefined;
}

/** The rule a request matched, and how it matched (ReplacePrefixMatch needs the prefix). */
export interface RouteMatch {
  readonly route: RouteSnapshot;
  readonly rule: RouteRuleSnapshot;
  /** The PathPrefix value that matched (no trailing slash but for "/"); undefined for other path matches. */
  readonly prefix: string | undefined;
  /** Picks a backend by weight (Math.random); undefined when every weight is 0 or there are none. */
  pickBackend(): RouteBackendSnapshot | undefined;
}

type Test = (req: RouteRequest, path: string, query: () => URLSearchParams) => boolean;

interface Entry {
  readonly match: RouteMatch;
  readonly test: Test;
  /** The first path segment every path it matches starts with (`/seg/…`), or undefined: any path. */
  readonly segment: string | undefined;
  /** A header every request it matches carries (its first header match's name), or undefined. */
  readonly header: string | undefined;
  /** Sort keys, Gateway API precedence: exact path, longest prefix, method, headers, query, route order, rule order. */
  readonly keys: readonly number[];
}

/** Gateway API path matches: PathPrefix is segment-wise ("/abc" matches "/abc", "/abc/" and "/abc/d", not "/abcd"). */
function pathTest(type: string, value: string): { test: (path: string) => boolean; prefix?: string } {
  if (type === 'Exact') return { test: (p) => p === value };
  if (type === 'RegularExpression') {
    const re = compileFullMatch(value);
    return { test: (p) => re.test(p) };
  }
  const prefix = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  if (prefix === '/') return { test: () => true, prefix };
  return { test: (p) => p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 47), prefix };
}

function stringTest(m: HeaderMatch): (value: string | undefined) => boolean {
  if (m.type === 'RegularExpression') {
    const re = compileFullMatch(m.value);
    return (v) => v !== undefined && re.test(v);
  }
  return (v) => v === m.value;
}

function headerTests(headers: readonly HeaderMatch[]): Test[] {
  return headers.map((h) => {
    const name = h.name.toLowerCase();
    const t = stringTest(h);
    return (req) => t(req.header(name));
  });
}

/** Weighted choice over a rule's backends, prepared once (cumulative weights). */
function backendPicker(backends: readonly RouteBackendSnapshot[]): () => RouteBackendSnapshot | undefined {
  const usable = backends.filter((b) => b.weight > 0);
  if (usable.length === 0) return () => undefined;
  if (usable.length === 1) return () => usable[0];
  const cumulative: number[] = [];
  let total = 0;
  for (const b of usable) cumulative.push((total += b.weight));
  return () => {
    const r = Math.random() * total;
    for (let i = 0; i < cumulative.length; i++) if (r < cumulative[i]) return usable[i];
    return usable[usable.length - 1];
  };
}

function httpEntry(route: RouteSnapshot, routeIndex: number, rule: RouteRuleSnapshot, ruleIndex: number, m: HTTPRouteMatch, matchIndex: number, pickBackend: RouteMatch['pickBackend']): Entry {
  const path = pathTest(m.path.type, m.path.value);
  const tests: Test[] = [(_req, p) => path.test(p)];
  if (m.method !== undefined) {
    const method = m.method;
    tests.push((req) => req.method === method);
  }
  tests.push(...headerTests(m.headers));
  for (const q of m.queryParams) {
    const t = stringTest(q);
    // Names are case-sensitive; with a repeated parameter the first value counts (as Envoy does).
    tests.push((_req, _p, query) => t(query().get(q.name) ?? undefined));
  }
  // RegularExpression's rank is the implementation's to choose: weft puts it between Exact and
  // PathPrefix (as Contour and Istio do), so a regex rule is not shadowed by a catch-all prefix.
  const pathRank = m.path.type === 'Exact' ? 0 : m.path.type === 'RegularExpression' ? 1 : 2;
  const keys = [pathRank, -(path.prefix?.length ?? m.path.value.length), m.method === undefined ? 1 : 0, -m.headers.length, -m.queryParams.length, routeIndex, ruleIndex, matchIndex];
  const literal = m.path.type === 'RegularExpression' || (m.path.type === 'PathPrefix' && path.prefix === '/') ? undefined : firstSegment(path.prefix ?? m.path.value);
  return { match: { route, rule, prefix: path.prefix, pickBackend }, test: all(tests), keys, segment: literal, header: m.headers[0]?.name.toLowerCase() };
}

/** `/seg/rest` → `seg` (`/` → ``); the query is not part of it. */
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

/**
 * GRPCRoute matches (Gateway API GRPCMethodMatch) read the `/service/method` path; their precedence
 * is by the characters of the matched service, then method, then header matches.
 */
function grpcEntry(route: RouteSnapshot, routeIndex: number, rule: RouteRuleSnapshot, ruleIndex: number, m: GRPCRouteMatch | undefined, matchIndex: number, pickBackend: RouteMatch['pickBackend']): Entry {
  const tests: Test[] = [];
  const method = m?.method;
  if (method !== undefined) {
    if (method.type === 'Exact') {
      const prefix = method.service !== undefined ? `/${method.service}/` : undefined;
      const suffix = method.method !== undefined ? `/${method.method}` : undefined;
      if (prefix !== undefined && suffix !== undefined) {
        const exact = `/${method.service}/${method.method}`;
        tests.push((_req, p) => p === exact);
      } else if (prefix !== undefined) {
        tests.push((_req, p) => p.startsWith(prefix) && p.indexOf('/', prefix.length) === -1);
      } else {
        tests.push((_req, p) => p.endsWith(suffix!) && p.lastIndexOf('/', p.length - suffix!.length - 1) === 0);
      }
    } else {
      const service = method.service !== undefined ? compileFullMatch(method.service) : undefined;
      const name = method.method !== undefined ? compileFullMatch(method.method) : undefined;
      tests.push((_req, p) => {
        const slash = p.indexOf('/', 1);
        if (p.charCodeAt(0) !== 47 || slash === -1) return false;
        return (service === undefined || service.test(p.slice(1, slash))) && (name === undefined || name.test(p.slice(slash + 1)));
      });
    }
  }
  tests.push(...headerTests(m?.headers ?? []));
  const keys = [method?.type === 'Exact' ? 0 : method ? 1 : 2, -(method?.service?.length ?? 0), -(method?.method?.length ?? 0), 0, -(m?.headers.length ?? 0), routeIndex, ruleIndex, matchIndex];
  // An exact service is the path's first segment: `/shop.Reviews/Get`.
  const segment = method?.type === 'Exact' && method.service !== undefined ? method.service : undefined;
  return { match: { route, rule, prefix: undefined, pickBackend }, test: all(tests), keys, segment, header: m?.headers[0]?.name.toLowerCase() };
}

function all(tests: Test[]): Test {
  if (tests.length === 1) return tests[0];
  return (req, path, query) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](req, path, query)) return false;
    return true;
  };
}

/**
 * Consecutive entries (in precedence order) that need the same header, as one block: a request
 * without that header skips the block with one lookup instead of testing each entry (header-based
 * rules tend to share their header: `x-canary`, `x-user-group`).
 */
interface Block {
  readonly header: string | undefined;
  readonly entries: readonly Entry[];
}

function blocks(entries: readonly Entry[]): Block[] {
  const out: { header: string | undefined; entries: Entry[] }[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last !== undefined && last.header === e.header) last.entries.push(e);
    else out.push({ header: e.header, entries: [e] });
  }
  return out;
}

function compareKeys(a: Entry, b: Entry): number {
  for (let i = 0; i < a.keys.length; i++) if (a.keys[i] !== b.keys[i]) return a.keys[i] - b.keys[i];
  return 0;
}

/** The routes of one service port, matched in Gateway API precedence order. */
export class RouteTable {
  /**
   * The entries a path can match, by its first segment, each list in precedence order: the
   * entries that need that segment and those that match any path. Built once, so a request is
   * tested only against rules that could match it (a table of 250 rules costs a lookup, not 250 tests).
   */
  readonly #bySegment: ReadonlyMap<string, readonly Block[]>;
  /** The entries that match any path (prefix `/`, regular expressions): for every other segment. */
  readonly #anyPath: readonly Block[];
  /** Whether any route is attached: then a request that matches no rule gets 404 (GAMMA). */
  readonly size: number;

  private constructor(entries: Entry[]) {
    const bySegment = new Map<string, Block[]>();
    for (const e of entries) if (e.segment !== undefined && !bySegment.has(e.segment)) bySegment.set(e.segment, blocks(entries.filter((x) => x.segment === undefined || x.segment === e.segment)));
    this.#bySegment = bySegment;
    this.#anyPath = blocks(entries.filter((e) => e.segment === undefined));
    this.size = entries.length;
  }

  /**
   * Compiles the routes of a service that govern `port` (a route with a parentRef port governs only
   * that port). Throws SyntaxError on a regular expression that does not compile (the snapshot is
   * then NACKed and the table in force stays).
   */
  static compile(routes: readonly RouteSnapshot[], port: number): RouteTable {
    const entries: Entry[] = [];
    routes.forEach((route, routeIndex) => {
      if (route.port !== undefined && route.port !== port) return;
      route.rules.forEach((rule, ruleIndex) => {
        const pickBackend = backendPicker(rule.backends);
        if (route.kind === 'GRPCRoute') {
          const matches = rule.grpcMatches?.length ? rule.grpcMatches : [undefined];
          matches.forEach((m, k) => entries.push(grpcEntry(route, routeIndex, rule, ruleIndex, m, k, pickBackend)));
        } else {
          (rule.matches ?? []).forEach((m, k) => entries.push(httpEntry(route, routeIndex, rule, ruleIndex, m, k, pickBackend)));
        }
      });
    });
    entries.sort(compareKeys);
    return new RouteTable(entries);
  }

  /** The highest-precedence rule that matches, or undefined (a 404 when size > 0). */
  match(req: RouteRequest): RouteMatch | undefined {
    const q = req.path.indexOf('?');
    const path = q === -1 ? req.path : req.path.slice(0, q);
    let params: URLSearchParams | undefined;
    const query = (): URLSearchParams => (params ??= new URLSearchParams(q === -1 ? '' : req.path.slice(q + 1)));
    const list = this.#bySegment.size === 0 ? this.#anyPath : this.#bySegment.get(firstSegment(path)) ?? this.#anyPath;
    for (let b = 0; b < list.length; b++) {
      const block = list[b];
      if (block.header !== undefined && req.header(block.header) === undefined) continue;
      const entries = block.entries;
      for (let i = 0; i < entries.length; i++) if (entries[i].test(req, path, query)) return entries[i].match;
    }
    return undefined;
  }
}
