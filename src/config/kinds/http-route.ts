// HTTPRoute (gateway.networking.k8s.io/v1), mesh (GAMMA) use: attached to a Service by parentRefs,
// it decides how a client's outbound proxy matches, rewrites and splits requests to that Service.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import {
  GATEWAY_API_VERSION,
  MAX_FILTERS,
  MAX_RULES,
  MAX_TOTAL_MATCHES,
  PRECISE_HOSTNAME,
  checkBackendRefs,
  checkDuration,
  checkFilterEnvelope,
  checkHeaderModifier,
  checkHostnames,
  checkParentRefs,
  checkRegex,
  checkExtensionRef,
  checkRequestMirror,
  checkRuleName,
  checkStringMatches,
  checkUniqueRuleNames,
  compact,
  parseDuration,
  type BackendRef,
  type HeaderMatch,
  type HeaderModifier,
  type ParentRef,
  type ExtensionRef,
  type RequestMirror,
  HEADER_NAME,
} from './route-common.ts';

export type HTTPPathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';
export const HTTP_PATH_MATCH_TYPES: readonly HTTPPathMatchType[] = ['Exact', 'PathPrefix', 'RegularExpression'];
export type HTTPMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';
export const HTTP_METHODS: readonly HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
export type RedirectStatusCode = 301 | 302 | 303 | 307 | 308;
export const REDIRECT_STATUS_CODES: readonly RedirectStatusCode[] = [301, 302, 303, 307, 308];

export const MAX_MATCHES_PER_RULE = 64;

export interface HTTPPathMatch {
  readonly type: HTTPPathMatchType;
  readonly value: string;
}

export interface HTTPRouteMatch {
  readonly path: HTTPPathMatch;
  /** All must match (AND); names compared case-insensitively. */
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly HeaderMatch[];
  readonly method?: HTTPMethod;
}

export type HTTPPathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly replaceFullPath: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly replacePrefixMatch: string };

export interface HTTPRequestRedirect {
  readonly scheme?: 'http' | 'https';
  readonly hostname?: string;
  readonly path?: HTTPPathModifier;
  readonly port?: number;
  readonly statusCode: RedirectStatusCode;
}

export interface HTTPURLRewrite {
  readonly hostname?: string;
  readonly path?: HTTPPathModifier;
}

export type HTTPRouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HeaderModifier }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HeaderModifier }
  | { readonly type: 'RequestRedirect'; readonly requestRedirect: HTTPRequestRedirect }
  | { readonly type: 'URLRewrite'; readonly urlRewrite: HTTPURLRewrite }
  | { readonly type: 'RequestMirror'; readonly requestMirror: RequestMirror }
  | { readonly type: 'ExtensionRef'; readonly extensionRef: ExtensionRef }
  | { readonly type: 'CORS'; readonly cors: HTTPCORSFilter };

/**
 * Gateway API HTTPCORSFilter (GEP-1767): the client's sidecar answers CORS preflights itself and adds
 * the Access-Control-* fields to actual responses (Fetch standard §3.2).
 */
export interface HTTPCORSFilter {
  /** `*`, or `scheme://host[:port]` where host may start with one `*.` label (any subdomain). Empty: no origin is allowed. */
  readonly allowOrigins: readonly string[];
  /** Methods, or `*` alone. Empty: none beyond the CORS-safelisted GET, HEAD, POST. */
  readonly allowMethods: readonly string[];
  /** Request header names, or `*` alone. */
  readonly allowHeaders: readonly string[];
  /** Response header names a script may read, or `*` alone. */
  readonly exposeHeaders: readonly string[];
  /** Access-Control-Allow-Credentials: true; `*` values are then answered with the request's own values. */
  readonly allowCredentials: boolean;
  /** Access-Control-Max-Age, in seconds (how long a browser caches the preflight); default 5. */
  readonly maxAge: number;
}

export type HTTPRouteFilterType = HTTPRouteFilter['type'];

/** Gateway API duration strings (see parseDuration); "0s" disables the timeout. */
export interface HTTPRouteTimeouts {
  readonly request?: string;
  readonly backendRequest?: string;
}

/**
 * Gateway API HTTPRouteRetry (GEP-1731): which answers send the request to another endpoint, how many
 * times, and the minimum wait before each retry. Connection failures and resets are always retried.
 */
export interface HTTPRouteRetry {
  /** HTTP status codes (400–599) that are retried; empty: only connection failures, resets and backendRequest timeouts. */
  readonly codes: readonly number[];
  /** Retries after the first attempt; absent: 1. */
  readonly attempts?: number;
  /** Gateway API duration: the minimum wait before the first retry; absent: 25ms. */
  readonly backoff?: string;
}

export interface HTTPRouteRule {
  readonly name?: string;
  /** Any one must match (OR). Never empty: defaults to a PathPrefix match on "/". */
  readonly matches: readonly HTTPRouteMatch[];
  /** Applied in order. */
  readonly filters: readonly HTTPRouteFilter[];
  readonly backendRefs: readonly BackendRef[];
  readonly timeouts?: HTTPRouteTimeouts;
  readonly retry?: HTTPRouteRetry;
}

export interface HTTPRouteSpec {
  readonly parentRefs: readonly ParentRef[];
  readonly hostnames: readonly string[];
  readonly rules: readonly HTTPRouteRule[];
}

export const DEFAULT_HTTP_ROUTE_MATCH: HTTPRouteMatch = { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] };

const FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
} as const satisfies Record<HTTPRouteFilterType, string>;

/** Filters upstream allows at most once per rule (RequestMirror may repeat). */
const SINGLE_FILTERS: readonly HTTPRouteFilterType[] = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'CORS'];

/** Upstream's character set for Exact and PathPrefix values: RFC 3986 path characters and %XX. */
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;

/** Upstream's rules for literal paths, so that a prefix cannot be bypassed by path tricks. */
function checkLiteralPath(c: Checker, value: string, path: string): boolean {
  const before = c.errors.length;
  if (!value.startsWith('/')) c.fail(path, `must start with "/", got ${JSON.stringify(value)}`);
  else if (!PATH_CHARS.test(value)) c.fail(path, `must contain only URL path characters (letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes), got ${JSON.stringify(value)}`);
  else {
    for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) {
      if (value.includes(bad)) c.fail(path, `must not contain ${JSON.stringify(bad)}`);
    }
    for (const bad of ['/..', '/.']) {
      if (value.endsWith(bad)) c.fail(path, `must not end with ${JSON.stringify(bad)}`);
    }
  }
  return c.errors.length === before;
}

function checkPathMatch(c: Checker, raw: unknown, path: string): HTTPPathMatch | undefined {
  if (raw === undefined) return DEFAULT_HTTP_ROUTE_MATCH.path;
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['type', 'value']);
  const type = c.oneOf(obj.type, join(path, 'type'), HTTP_PATH_MATCH_TYPES) ?? 'PathPrefix';
  const vp = join(path, 'value');
  const value = obj.value === undefined ? '/' : c.string(obj.value, vp, { required: true, max: 1024 });
  if (value === undefined) return undefined;
  if (obj.type !== undefined && !HTTP_PATH_MATCH_TYPES.includes(obj.type as HTTPPathMatchType)) return undefined;
  const ok = type === 'RegularExpression' ? checkRegex(c, value, vp) : checkLiteralPath(c, value, vp);
  return ok ? { type, value } : undefined;
}

function checkMatch(c: Checker, raw: unknown, path: string): HTTPRouteMatch | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['path', 'headers', 'queryParams', 'method']);
  const pathMatch = checkPathMatch(c, obj.path, join(path, 'path'));
  const headers = checkStringMatches(c, obj.headers, join(path, 'headers'), { caseInsensitiveNames: true, maxValue: 4096 });
  const queryParams = checkStringMatches(c, obj.queryParams, join(path, 'queryParams'), { caseInsensitiveNames: false, maxValue: 1024 });
  const method = c.oneOf(obj.method, join(path, 'method'), HTTP_METHODS);
  if (!pathMatch) return undefined;
  return compact({ path: pathMatch, headers, queryParams, method });
}

function checkPathModifier(c: Checker, raw: unknown, path: string): HTTPPathModifier | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['type', 'replaceFullPath', 'replacePrefixMatch']);
  const type = c.oneOf(obj.type, join(path, 'type'), ['ReplaceFullPath', 'ReplacePrefixMatch'] as const, { required: true });
  if (type === undefined) return undefined;
  const field = type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
  const other = type === 'ReplaceFullPath' ? 'replacePrefixMatch' : 'replaceFullPath';
  if (obj[other] !== undefined) c.fail(join(path, other), `must not be set when type is ${type}`);
  const fp = join(path, field);
  if (obj[field] === undefined) {
    c.fail(fp, `is required when type is ${type}`);
    return undefined;
  }
  const value = c.string(obj[field], fp, { max: 1024 });
  if (value === undefined) return undefined;
  // An empty replacement prefix is meaningful upstream ("/foo/bar" with prefix "/foo" → "/bar").
  if (type === 'ReplacePrefixMatch' && value === '') return { type, replacePrefixMatch: '' };
  if (!checkLiteralPath(c, value, fp)) return undefined;
  return type === 'ReplaceFullPath' ? { type, replaceFullPath: value } : { type, replacePrefixMatch: value };
}

function checkHostnameField(c: Checker, raw: unknown, path: string): string | undefined {
  return c.string(raw, path, { required: raw !== undefined, max: 253, pattern: PRECISE_HOSTNAME, patternHint: 'a lower-case DNS hostname without wildcard' });
}

function checkRedirect(c: Checker, raw: unknown, path: string): HTTPRequestRedirect | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['scheme', 'hostname', 'path', 'port', 'statusCode']);
  const before = c.errors.length;
  const scheme = c.oneOf(obj.scheme, join(path, 'scheme'), ['http', 'https'] as const);
  const hostname = checkHostnameField(c, obj.hostname, join(path, 'hostname'));
  const pathMod = obj.path === undefined ? undefined : checkPathModifier(c, obj.path, join(path, 'path'));
  const port = c.integer(obj.port, join(path, 'port'), { min: 1, max: 65535 });
  let statusCode: RedirectStatusCode = 302;
  const code = c.integer(obj.statusCode, join(path, 'statusCode'));
  if (code !== undefined) {
    if ((REDIRECT_STATUS_CODES as readonly number[]).includes(code)) statusCode = code as RedirectStatusCode;
    else c.fail(join(path, 'statusCode'), `must be one of ${REDIRECT_STATUS_CODES.join(', ')}, got ${code}`);
  }
  if (c.errors.length !== before) return undefined;
  return compact({ scheme, hostname, path: pathMod, port, statusCode });
}

function checkRewrite(c: Checker, raw: unknown, path: string): HTTPURLRewrite | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['hostname', 'path']);
  const before = c.errors.length;
  const hostname = checkHostnameField(c, obj.hostname, join(path, 'hostname'));
  const pathMod = obj.path === undefined ? undefined : checkPathModifier(c, obj.path, join(path, 'path'));
  if (c.errors.length !== before) return undefined;
  return compact({ hostname, path: pathMod });
}

function checkFilter(c: Checker, raw: unknown, path: string): HTTPRouteFilter | undefined {
  const env = checkFilterEnvelope(c, raw, path, FILTER_FIELDS);
  if (!env) return undefined;
  const cp = join(path, FILTER_FIELDS[env.type]);
  switch (env.type) {
    case 'RequestHeaderModifier': {
      const m = checkHeaderModifier(c, env.config, cp);
      return m && { type: env.type, requestHeaderModifier: m };
    }
    case 'ResponseHeaderModifier': {
      const m = checkHeaderModifier(c, env.config, cp);
      return m && { type: env.type, responseHeaderModifier: m };
    }
    case 'RequestRedirect': {
      const r = checkRedirect(c, env.config, cp);
      return r && { type: env.type, requestRedirect: r };
    }
    case 'URLRewrite': {
      const r = checkRewrite(c, env.config, cp);
      return r && { type: env.type, urlRewrite: r };
    }
    case 'RequestMirror': {
      const m = checkRequestMirror(c, env.config, cp);
      return m && { type: env.type, requestMirror: m };
    }
    case 'ExtensionRef': {
      const r = checkExtensionRef(c, env.config, cp);
      return r && { type: env.type, extensionRef: r };
    }
    case 'CORS': {
      const r = checkCors(c, env.config, cp);
      return r && { type: env.type, cors: r };
    }
  }
}

/** Upstream CORSOrigin: `scheme://host[:port]`, the host optionally led by one `*.` wildcard label. */
const CORS_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
/** Upstream limits of HTTPCORSFilter's lists (CRD MaxItems). */
const MAX_CORS_ITEMS = 64;

/** A CORS list of names (or `*`, which must then be the only entry). */
function checkCorsList(c: Checker, raw: unknown, path: string, item: (v: unknown, p: string) => string | undefined, max = MAX_CORS_ITEMS): string[] {
  const list = c.array(raw, path, { max }) ?? [];
  const out: string[] = [];
  const seen = new Set<string>();
  list.forEach((v, i) => {
    const p = join(path, i);
    const value = v === '*' ? '*' : item(v, p);
    if (value === undefined) return;
    if (seen.has(value.toLowerCase())) c.fail(p, `repeats ${JSON.stringify(value)}`);
    seen.add(value.toLowerCase());
    out.push(value);
  });
  if (out.includes('*') && out.length > 1) c.fail(path, 'must be "*" alone or a list without "*"');
  return out;
}

function checkCors(c: Checker, raw: unknown, path: string): HTTPCORSFilter | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['allowOrigins', 'allowMethods', 'allowHeaders', 'exposeHeaders', 'allowCredentials', 'maxAge']);
  const before = c.errors.length;
  const allowOrigins = checkCorsList(c, obj.allowOrigins, join(path, 'allowOrigins'), (v, p) =>
    c.string(v, p, { required: true, max: 253, pattern: CORS_ORIGIN, patternHint: 'an origin such as "https://app.example", "https://*.example.com:8443" or "*"' }),
  );
  const allowMethods = checkCorsList(c, obj.allowMethods, join(path, 'allowMethods'), (v, p) => c.oneOf(v, p, HTTP_METHODS, { required: true }), HTTP_METHODS.length + 1);
  const header = (v: unknown, p: string): string | undefined => c.string(v, p, { required: true, max: 256, pattern: HEADER_NAME, patternHint: 'an HTTP header name' });
  const allowHeaders = checkCorsList(c, obj.allowHeaders, join(path, 'allowHeaders'), header);
  const exposeHeaders = checkCorsList(c, obj.exposeHeaders, join(path, 'exposeHeaders'), header);
  const allowCredentials = c.boolean(obj.allowCredentials, join(path, 'allowCredentials')) ?? false;
  // Upstream: maxAge in seconds, minimum 1, default 5.
  const maxAge = c.integer(obj.maxAge, join(path, 'maxAge'), { min: 1, max: 86_400 }) ?? 5;
  if (c.errors.length !== before) return undefined;
  return { allowOrigins, allowMethods, allowHeaders, exposeHeaders, allowCredentials, maxAge };
}

/** Upstream HTTPRouteRetryStatusCode: 400–599. */
const MAX_RETRY_CODES = 32;

function checkRetry(c: Checker, raw: unknown, path: string): HTTPRouteRetry | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['codes', 'attempts', 'backoff']);
  const before = c.errors.length;
  const cp = join(path, 'codes');
  const codes: number[] = [];
  (c.array(obj.codes, cp, { max: MAX_RETRY_CODES }) ?? []).forEach((v, i) => {
    const code = c.integer(v, join(cp, i), { required: true, min: 400, max: 599 });
    if (code === undefined) return;
    if (codes.includes(code)) c.fail(join(cp, i), `repeats ${code}`);
    else codes.push(code);
  });
  // A bound keeps one request from multiplying into many: the budget is another matter (issue-wide).
  const attempts = c.integer(obj.attempts, join(path, 'attempts'), { min: 0, max: 10 });
  const backoff = checkDuration(c, obj.backoff, join(path, 'backoff'));
  if (c.errors.length !== before) return undefined;
  return compact({ codes, attempts, backoff });
}

function checkTimeouts(c: Checker, raw: unknown, path: string): HTTPRouteTimeouts | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['request', 'backendRequest']);
  const request = checkDuration(c, obj.request, join(path, 'request'));
  const backendRequest = checkDuration(c, obj.backendRequest, join(path, 'backendRequest'));
  if (request !== undefined && backendRequest !== undefined) {
    const req = parseDuration(request) ?? 0;
    // The request timeout covers every backend attempt, so one attempt cannot outlast it.
    if (req !== 0 && (parseDuration(backendRequest) ?? 0) > req) {
      c.fail(join(path, 'backendRequest'), `must not be longer than request (${request})`);
    }
  }
  return compact({ request, backendRequest });
}

function checkRule(c: Checker, raw: unknown, path: string): HTTPRouteRule | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['name', 'matches', 'filters', 'backendRefs', 'timeouts', 'retry']);
  const before = c.errors.length;
  const name = checkRuleName(c, obj.name, join(path, 'name'));

  const mp = join(path, 'matches');
  const rawMatches = c.array(obj.matches, mp, { max: MAX_MATCHES_PER_RULE }) ?? [];
  const matches: HTTPRouteMatch[] = [];
  rawMatches.forEach((m, i) => {
    const match = checkMatch(c, m, join(mp, i));
    if (match) matches.push(match);
  });
  // Upstream: no matches means a PathPrefix match on "/", i.e. every request.
  if (rawMatches.length === 0) matches.push(DEFAULT_HTTP_ROUTE_MATCH);

  const fp = join(path, 'filters');
  const filters: HTTPRouteFilter[] = [];
  const rawFilters = c.array(obj.filters, fp, { max: MAX_FILTERS }) ?? [];
  const firstOfType = new Map<HTTPRouteFilterType, number>();
  rawFilters.forEach((f, i) => {
    const filter = checkFilter(c, f, join(fp, i));
    if (!filter) return;
    const tp = join(join(fp, i), 'type');
    const first = firstOfType.get(filter.type);
    if (first !== undefined && SINGLE_FILTERS.includes(filter.type)) c.fail(tp, `${filter.type} may appear only once per rule (first at ${join(fp, first)})`);
    if (first === undefined) firstOfType.set(filter.type, i);
    const clash = filter.type === 'RequestRedirect' ? 'URLRewrite' : filter.type === 'URLRewrite' ? 'RequestRedirect' : undefined;
    if (clash && firstOfType.has(clash)) c.fail(tp, `must not be combined with the ${clash} filter at ${join(fp, firstOfType.get(clash)!)}`);
    filters.push(filter);
  });

  const backendRefs = checkBackendRefs(c, obj.backendRefs, join(path, 'backendRefs'));
  const timeouts = obj.timeouts === undefined ? undefined : checkTimeouts(c, obj.timeouts, join(path, 'timeouts'));
  const retry = obj.retry === undefined ? undefined : checkRetry(c, obj.retry, join(path, 'retry'));

  filters.forEach((filter, i) => {
    const tp = join(join(fp, i), 'type');
    if (filter.type === 'RequestRedirect' && backendRefs.length > 0) {
      c.fail(tp, 'RequestRedirect answers the request itself and must not be used together with backendRefs');
    }
    const mod = filter.type === 'RequestRedirect' ? filter.requestRedirect.path : filter.type === 'URLRewrite' ? filter.urlRewrite.path : undefined;
    if (mod?.type === 'ReplacePrefixMatch' && !(matches.length === 1 && matches[0].path.type === 'PathPrefix')) {
      const field = FILTER_FIELDS[filter.type as 'RequestRedirect' | 'URLRewrite'];
      c.fail(join(join(join(join(fp, i), field), 'path'), 'type'), 'ReplacePrefixMatch needs the rule to have exactly one match, of type PathPrefix');
    }
  });

  if (c.errors.length !== before) return undefined;
  return compact({ name, matches, filters, backendRefs, timeouts, retry });
}

function validateSpec(raw: unknown, path: string): ValidationResult<HTTPRouteSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['parentRefs', 'hostnames', 'rules']);
  const parentRefs = checkParentRefs(c, spec.parentRefs, join(path, 'parentRefs'));
  const hostnames = checkHostnames(c, spec.hostnames, join(path, 'hostnames'));

  const rp = join(path, 'rules');
  const rules: HTTPRouteRule[] = [];
  if (spec.rules === undefined) {
    // Upstream default: one rule matching every request (it has no backends until given some).
    rules.push({ matches: [DEFAULT_HTTP_ROUTE_MATCH], filters: [], backendRefs: [] });
  } else {
    const list = c.array(spec.rules, rp, { min: 1, max: MAX_RULES }) ?? [];
    const names: (string | undefined)[] = [];
    let totalMatches = 0;
    list.forEach((r, i) => {
      const rule = checkRule(c, r, join(rp, i));
      const obj = r as { name?: unknown; matches?: unknown } | null;
      names.push(typeof obj?.name === 'string' ? obj.name : undefined);
      totalMatches += Array.isArray(obj?.matches) ? obj.matches.length : 0;
      if (rule) rules.push(rule);
    });
    checkUniqueRuleNames(c, names, rp);
    if (totalMatches > MAX_TOTAL_MATCHES) c.fail(rp, `must have at most ${MAX_TOTAL_MATCHES} matches across all rules, got ${totalMatches}`);
  }

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { parentRefs, hostnames, rules } };
}

export const httpRouteType: ResourceType<HTTPRouteSpec> = {
  kind: 'HTTPRoute',
  apiVersion: GATEWAY_API_VERSION,
  plural: 'httproutes',
  aliases: ['httproute', 'route'],
  namespaced: true,
  validateSpec,
};
