// Pieces HTTPRoute and GRPCRoute share (Gateway API v1 as written upstream, with mesh/GAMMA
// semantics): Service parent and backend references, hostnames, header matches, header-modifier and
// mirror filters, regular expressions and Gateway API durations. Proxies reuse the parsers here.

import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';

export const GATEWAY_API_VERSION = 'gateway.networking.k8s.io/v1';

/** Upstream limits (CRD MaxItems); kept so a route valid here is valid on a Kubernetes cluster. */
export const MAX_PARENT_REFS = 32;
export const MAX_HOSTNAMES = 16;
export const MAX_RULES = 16;
export const MAX_FILTERS = 16;
export const MAX_BACKEND_REFS = 16;
export const MAX_HEADER_MATCHES = 16;
export const MAX_HEADER_MODIFIER_ITEMS = 16;
export const MAX_TOTAL_MATCHES = 128;
export const MAX_WEIGHT = 1_000_000;

/** RFC 7230 token: what upstream's HTTPHeaderName allows (no `:` pseudo-headers). */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HEADER_NAME_HINT = 'an HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)';
/** Upstream Hostname: RFC 1123, optionally prefixed by one `*.` wildcard label. */
export const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Upstream PreciseHostname: a hostname without wildcard. */
export const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 = /^[0-9]+(\.[0-9]+){3}$/;
/** Upstream SectionName (used for rule names). */
export const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** GEP-2257 duration: 1 to 4 `<digits><unit>` parts, units h, m, s, ms, e.g. `1h30m`, `500ms`. */
export const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const DURATION_HINT = 'a Gateway API duration such as "10s", "500ms" or "1h30m" (units h, m, s, ms; no fractions)';
/** Node refuses header values outside these bytes; a route that sets one would fail on every request. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

export type StringMatchType = 'Exact' | 'RegularExpression';
export const STRING_MATCH_TYPES: readonly StringMatchType[] = ['Exact', 'RegularExpression'];

export interface ParentRef {
  readonly kind: 'Service';
  readonly name: string;
  /** The Service's namespace; absent means the route's own namespace. */
  readonly namespace?: string;
  /** Only traffic to this Service port uses the route; absent means every port. */
  readonly port?: number;
}

/**
 * A backend (Gateway API BackendObjectReference): a Service in the core group. Another group or kind
 * is kept as written: the route is still accepted, and that backend's share of requests gets 500
 * (ResolvedRefs False, InvalidKind), as the specification says.
 */
export interface ServiceRef {
  /** Absent (or "" / "core"): the core group. */
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  /** Another namespace needs a ReferenceGrant there; absent: the route's own namespace. */
  readonly namespace?: string;
  /** Absent: the same port number the request was addressed to. */
  readonly port?: number;
}

export interface BackendRef extends ServiceRef {
  /** Relative share of requests; 0 sends none. */
  readonly weight: number;
}

/** A reference to a core-group Service (the only backend kind weft resolves). */
export function isServiceRef(ref: ServiceRef): boolean {
  return (ref.group === undefined || ref.group === '' || ref.group === 'core') && ref.kind === 'Service';
}

export interface HeaderMatch {
  readonly type: StringMatchType;
  readonly name: string;
  readonly value: string;
}

export interface HTTPHeader {
  readonly name: string;
  readonly value: string;
}

export interface HeaderModifier {
  readonly set: readonly HTTPHeader[];
  readonly add: readonly HTTPHeader[];
  readonly remove: readonly string[];
}

export interface Fraction {
  readonly numerator: number;
  readonly denominator: number;
}

/** Gateway API LocalObjectReference of an ExtensionRef filter: a resource in the route's namespace. */
export interface ExtensionRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

/** ExtensionRef kinds weft implements (group weft.dev). */
export const EXTENSION_KINDS: readonly string[] = ['FaultInjection'];

/** An ExtensionRef filter's reference: group weft.dev and a kind weft implements. */
export function checkExtensionRef(c: Checker, raw: unknown, path: string): ExtensionRef | undefined {
  const ref = c.object(raw, path);
  if (!ref) return undefined;
  c.noUnknown(ref, path, ['group', 'kind', 'name']);
  const group = c.oneOf(ref.group, join(path, 'group'), ['weft.dev'], { required: true });
  const kind = c.oneOf(ref.kind, join(path, 'kind'), EXTENSION_KINDS, { required: true });
  const name = c.string(ref.name, join(path, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  return group && kind && name ? { group, kind, name } : undefined;
}

export interface RequestMirror {
  readonly backendRef: ServiceRef;
  /** Only one of percent and fraction; neither means every request is mirrored. */
  readonly percent?: number;
  readonly fraction?: Fraction;
}

/** Milliseconds in a GEP-2257 duration (`1h30m` → 5_400_000); undefined when malformed. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  // `ms` before `m` so that `500ms` is not read as 500 minutes followed by garbage.
  for (const part of value.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(part[1]) * unitMs[part[2]];
  return total;
}

// Route patterns are matched against what any caller sends: with a backtracking engine, a pattern
// such as `(a+)+$` and a 30-byte path hold a sidecar's thread for seconds. V8's linear-time engine
// (the `l` flag, RE2's guarantee: time linear in the input) removes that; it is behind a V8 flag,
// set here once for the process (it only makes the `l` flag available; other regexes are unchanged).
process.getBuiltinModule('node:v8').setFlagsFromString('--enable-experimental-regexp-engine');

/**
 * The one way a route's regular expression is compiled, by the validator and by proxies alike:
 * JavaScript syntax, anchored at both ends (the whole path / header value must match, as in
 * Envoy), run by V8's linear-time engine, so matching costs time linear in the input whatever the
 * pattern (as Envoy's RE2 does). Throws SyntaxError for an invalid pattern, or one that needs
 * backtracking (backreferences), which the linear engine refuses.
 */
export function compileFullMatch(pattern: string): RegExp {
  // Compiled alone first: `a)|(b` is invalid by itself but would compile once wrapped, escaping the anchors.
  new RegExp(pattern, 'l');
  return new RegExp(`^(?:${pattern})$`, 'l');
}

/** Records an error unless `pattern` compiles; returns whether it did. */
export function checkRegex(c: Checker, pattern: string, path: string): boolean {
  try {
    compileFullMatch(pattern);
    return true;
  } catch (err) {
    const why = (err as Error).message;
    c.fail(path, /linear time/.test(why) ? `must be a regular expression that matches in linear time (no backreferences, as in RE2): ${why}` : `is not a valid regular expression: ${why}`);
    return false;
  }
}

/** Returns a copy without the keys whose value is undefined, so normalized output stays minimal. */
export function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Routes attach to and forward to Services only: the core group, written `''` or `core`. */
function checkCoreGroup(c: Checker, value: unknown, path: string): void {
  const group = c.string(value, path);
  if (group !== undefined && group !== '' && group !== 'core') {
    c.fail(path, `must be "" (or "core"): weft routes refer to Services only, got ${JSON.stringify(group)}`);
  }
}

function checkPort(c: Checker, value: unknown, path: string): number | undefined {
  return c.integer(value, path, { min: 1, max: 65535 });
}

export function checkParentRefs(c: Checker, raw: unknown, path: string): ParentRef[] {
  const out: ParentRef[] = [];
  const list = c.array(raw, path, { required: true, min: 1, max: MAX_PARENT_REFS }) ?? [];
  // Upstream: several references to the same parent must each name a distinct port.
  const seen = new Map<string, { portless: boolean; ports: Set<number> }>();
  list.forEach((item, i) => {
    const p = join(path, i);
    const ref = c.object(item, p);
    if (!ref) return;
    c.noUnknown(ref, p, ['group', 'kind', 'name', 'namespace', 'port']);
    checkCoreGroup(c, ref.group, join(p, 'group'));
    c.oneOf(ref.kind, join(p, 'kind'), ['Service']);
    const name = c.string(ref.name, join(p, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const namespace = c.string(ref.namespace, join(p, 'namespace'), { required: ref.namespace !== undefined, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const port = checkPort(c, ref.port, join(p, 'port'));
    if (name === undefined) return;
    const key = `${namespace ?? ''}/${name}`;
    const prior = seen.get(key);
    if (prior) {
      if (port === undefined || prior.portless) {
        c.fail(join(p, 'port'), 'is required when the route has several parentRefs to the same Service');
      } else if (prior.ports.has(port)) {
        c.fail(join(p, 'port'), `duplicates another parentRef to the same Service and port ${port}`);
      }
    }
    const entry = prior ?? { portless: false, ports: new Set<number>() };
    if (port === undefined) entry.portless = true;
    else entry.ports.add(port);
    seen.set(key, entry);
    out.push(compact({ kind: 'Service' as const, name, namespace, port }));
  });
  return out;
}

export function checkHostnames(c: Checker, raw: unknown, path: string): string[] {
  const out: string[] = [];
  const list = c.array(raw, path, { max: MAX_HOSTNAMES }) ?? [];
  list.forEach((item, i) => {
    const p = join(path, i);
    const h = c.string(item, p, {
      required: true,
      max: 253,
      pattern: HOSTNAME,
      patternHint: 'a lower-case DNS hostname, optionally starting with "*." (e.g. "reviews.example.com")',
    });
    if (h === undefined) return;
    if (IPV4.test(h)) c.fail(p, 'must be a hostname, not an IP address');
    else out.push(h);
  });
  return out;
}

/** A Service reference without weight (RequestMirror's backendRef). */
export function checkServiceRef(c: Checker, raw: unknown, path: string): ServiceRef | undefined {
  const ref = c.object(raw, path);
  if (!ref) return undefined;
  c.noUnknown(ref, path, ['group', 'kind', 'name', 'namespace', 'port']);
  return serviceRefFields(c, ref, path);
}

/** Group and kind as the Gateway API allows them (DNS subdomain / CamelCase); only core Services resolve. */
const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

function serviceRefFields(c: Checker, ref: Record<string, unknown>, path: string): ServiceRef | undefined {
  const group = c.string(ref.group, join(path, 'group'), { max: 253, pattern: GROUP, patternHint: 'a DNS subdomain, or "" for the core group' });
  const kind = c.string(ref.kind, join(path, 'kind'), { max: 63, pattern: KIND, patternHint: 'a kind name such as "Service"' }) ?? 'Service';
  const name = c.string(ref.name, join(path, 'name'), { required: true, max: 253 });
  const namespace = c.string(ref.namespace, join(path, 'namespace'), { required: ref.namespace !== undefined, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  const port = checkPort(c, ref.port, join(path, 'port'));
  if (name === undefined) return undefined;
  const core = group === undefined || group === '' || group === 'core';
  if (core && kind === 'Service') {
    // A Service name is a DNS label; other kinds' names are theirs to define.
    if (!DNS_LABEL.test(name)) c.fail(join(path, 'name'), `must be ${DNS_LABEL_HINT}, got ${JSON.stringify(name)}`);
    // The specification: port is required when the referent is a Kubernetes Service.
  }
  return compact({ group: core ? undefined : group, kind, name, namespace, port });
}

export function checkBackendRefs(c: Checker, raw: unknown, path: string): BackendRef[] {
  const out: BackendRef[] = [];
  const list = c.array(raw, path, { max: MAX_BACKEND_REFS }) ?? [];
  list.forEach((item, i) => {
    const p = join(path, i);
    const ref = c.object(item, p);
    if (!ref) return;
    c.noUnknown(ref, p, ['group', 'kind', 'name', 'namespace', 'port', 'weight']);
    const base = serviceRefFields(c, ref, p);
    const weight = c.integer(ref.weight, join(p, 'weight'), { min: 0, max: MAX_WEIGHT }) ?? 1;
    if (base) out.push({ ...base, weight });
  });
  return out;
}

/**
 * Header (or query parameter) matches. Names must be unique in one match, compared
 * case-insensitively for headers, exactly for query parameters.
 */
export function checkStringMatches(
  c: Checker,
  raw: unknown,
  path: string,
  opts: { readonly caseInsensitiveNames: boolean; readonly maxValue: number },
): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  const list = c.array(raw, path, { max: MAX_HEADER_MATCHES }) ?? [];
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const p = join(path, i);
    const m = c.object(item, p);
    if (!m) return;
    c.noUnknown(m, p, ['type', 'name', 'value']);
    const type = c.oneOf(m.type, join(p, 'type'), STRING_MATCH_TYPES) ?? 'Exact';
    const name = c.string(m.name, join(p, 'name'), { required: true, max: 256, pattern: HEADER_NAME, patternHint: HEADER_NAME_HINT });
    const value = c.string(m.value, join(p, 'value'), { required: true, max: opts.maxValue });
    if (name !== undefined) {
      const key = opts.caseInsensitiveNames ? name.toLowerCase() : name;
      const first = seen.get(key);
      if (first !== undefined) c.fail(join(p, 'name'), `duplicates ${join(path, first)}.name (${JSON.stringify(name)})`);
      else seen.set(key, i);
    }
    if (value !== undefined && type === 'RegularExpression' && !checkRegex(c, value, join(p, 'value'))) return;
    if (name !== undefined && value !== undefined) out.push({ type, name, value });
  });
  return out;
}

/** RequestHeaderModifier / ResponseHeaderModifier: at most one action per header name. */
export function checkHeaderModifier(c: Checker, raw: unknown, path: string): HeaderModifier | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['set', 'add', 'remove']);
  // Upstream: "Only one action for a given header name is permitted", across set, add and remove.
  const seen = new Map<string, string>();
  const claim = (name: string, p: string): void => {
    const key = name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) c.fail(p, `header ${JSON.stringify(name)} already has an action at ${first}`);
    else seen.set(key, p);
  };
  const headers = (field: 'set' | 'add'): HTTPHeader[] => {
    const out: HTTPHeader[] = [];
    const lp = join(path, field);
    const list = c.array(obj[field], lp, { max: MAX_HEADER_MODIFIER_ITEMS }) ?? [];
    list.forEach((item, i) => {
      const p = join(lp, i);
      const h = c.object(item, p);
      if (!h) return;
      c.noUnknown(h, p, ['name', 'value']);
      const name = c.string(h.name, join(p, 'name'), { required: true, max: 256, pattern: HEADER_NAME, patternHint: HEADER_NAME_HINT });
      const value = c.string(h.value, join(p, 'value'), {
        required: true,
        max: 4096,
        pattern: HEADER_VALUE,
        patternHint: 'a header value (no control characters other than tab, no characters beyond \\xff)',
      });
      if (name !== undefined) claim(name, join(p, 'name'));
      if (name !== undefined && value !== undefined) out.push({ name, value });
    });
    return out;
  };
  const set = headers('set');
  const add = headers('add');
  const remove: string[] = [];
  const rp = join(path, 'remove');
  const list = c.array(obj.remove, rp, { max: MAX_HEADER_MODIFIER_ITEMS }) ?? [];
  list.forEach((item, i) => {
    const p = join(rp, i);
    const name = c.string(item, p, { required: true, max: 256, pattern: HEADER_NAME, patternHint: HEADER_NAME_HINT });
    if (name === undefined) return;
    claim(name, p);
    remove.push(name);
  });
  return { set, add, remove };
}

export function checkRequestMirror(c: Checker, raw: unknown, path: string): RequestMirror | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['backendRef', 'percent', 'fraction']);
  const brPath = join(path, 'backendRef');
  let backendRef: ServiceRef | undefined;
  if (obj.backendRef === undefined) c.fail(brPath, 'is required');
  else backendRef = checkServiceRef(c, obj.backendRef, brPath);
  const percent = c.integer(obj.percent, join(path, 'percent'), { min: 0, max: 100 });
  let fraction: Fraction | undefined;
  if (obj.fraction !== undefined) {
    const fp = join(path, 'fraction');
    if (obj.percent !== undefined) c.fail(fp, 'must not be set together with percent');
    const f = c.object(obj.fraction, fp);
    if (f) {
      c.noUnknown(f, fp, ['numerator', 'denominator']);
      const numerator = c.integer(f.numerator, join(fp, 'numerator'), { required: true, min: 0 });
      const denominator = c.integer(f.denominator, join(fp, 'denominator'), { min: 1 }) ?? 100;
      if (numerator !== undefined && numerator > denominator) {
        c.fail(join(fp, 'numerator'), `must not exceed the denominator (${denominator})`);
      } else if (numerator !== undefined) {
        fraction = { numerator, denominator };
      }
    }
  }
  return backendRef ? compact({ backendRef, percent, fraction }) : undefined;
}

/** Optional rule name: unique within the route (checked by the caller across rules). */
export function checkRuleName(c: Checker, raw: unknown, path: string): string | undefined {
  return c.string(raw, path, {
    required: raw !== undefined,
    max: 253,
    pattern: SECTION_NAME,
    patternHint: 'lower-case letters, digits, - and . (starting and ending with a letter or digit)',
  });
}

/** Reports a repeated rule name on the later rule's `name`. */
export function checkUniqueRuleNames(c: Checker, names: readonly (string | undefined)[], rulesPath: string): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) c.fail(join(join(rulesPath, i), 'name'), `duplicates ${join(rulesPath, first)}.name (${JSON.stringify(name)})`);
    else seen.set(name, i);
  });
}

export function checkDuration(c: Checker, raw: unknown, path: string): string | undefined {
  return c.string(raw, path, { required: raw !== undefined, pattern: DURATION, patternHint: DURATION_HINT });
}

/**
 * A filter is a tagged union: `type` names the one config field that must be present, and every
 * other config field must be absent. Returns the type and its raw config for the caller to parse.
 */
export function checkFilterEnvelope<T extends string>(
  c: Checker,
  raw: unknown,
  path: string,
  fields: Readonly<Record<T, string>>,
): { readonly type: T; readonly config: unknown } | undefined {
  const f = c.object(raw, path);
  if (!f) return undefined;
  const types = Object.keys(fields) as T[];
  const configFields = types.map((t) => fields[t]);
  c.noUnknown(f, path, ['type', ...configFields]);
  const type = c.oneOf(f.type, join(path, 'type'), types, { required: true });
  if (type === undefined) return undefined;
  const wanted = fields[type];
  for (const field of configFields) {
    if (field !== wanted && f[field] !== undefined) c.fail(join(path, field), `must not be set when type is ${type}`);
  }
  if (f[wanted] === undefined) {
    c.fail(join(path, wanted), `is required when type is ${type}`);
    return undefined;
  }
  return { type, config: f[wanted] };
}
