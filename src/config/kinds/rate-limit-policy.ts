// RateLimitPolicy (weft.dev/v1alpha1): request-rate limits for the Services it targets, enforced by
// their own sidecars (direction inbound) or by the sidecars that call them (outbound). Local limits
// are token buckets in each proxy (Envoy local_ratelimit); the global limit is shared through Redis.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';

/** inbound: the target Service's own sidecars protect its app; outbound: every caller's sidecar protects the callee. */
export type RateLimitDirection = 'inbound' | 'outbound';
export const RATE_LIMIT_DIRECTIONS: readonly RateLimitDirection[] = ['inbound', 'outbound'];

/** Redis unreachable: `open` admits, `closed` refuses (503); either way `fallbackLocalRequestsPerSecond` applies. */
export type RateLimitFailureMode = 'open' | 'closed';
export const RATE_LIMIT_FAILURE_MODES: readonly RateLimitFailureMode[] = ['open', 'closed'];

/** The one global algorithm implemented: GCRA (generic cell rate algorithm), a token bucket kept as one timestamp. */
export const RATE_LIMIT_ALGORITHMS = ['gcra'] as const;
export type RateLimitAlgorithm = (typeof RATE_LIMIT_ALGORITHMS)[number];

/**
 * A token bucket (Envoy's): `burst` tokens at most (the bucket's capacity), refilled at
 * `requestsPerSecond`; a request takes one. `burst` defaults to ceil(requestsPerSecond), at least 1.
 */
export interface RateLimit {
  /** Tokens per second, > 0 and at most 1,000,000; fractions allowed (0.5 = one request every 2 s). */
  readonly requestsPerSecond: number;
  /** Integer 1–1,000,000. */
  readonly burst: number;
}

/** A caller named by its workload: weft's SPIFFE IDs are per Service, so a ServiceAccount name is matched as the Service name. */
export interface ClientRef {
  readonly kind: 'Service' | 'ServiceAccount';
  readonly name: string;
  readonly namespace: string;
}

/** A caller-specific bucket instead of the per-identity default (Linkerd's `overrides`). */
export interface RateLimitOverride extends RateLimit {
  readonly clientRefs: readonly ClientRef[];
}

/** One bucket per value of a request header (a tenant, an API key), at most MAX_KEYS of them (least recently used go first). */
export interface HeaderRateLimit extends RateLimit {
  /** The header's name, lower-cased. A request without it takes no token from this limit. */
  readonly name: string;
}

export interface LocalRateLimit {
  /** One bucket for all requests. */
  readonly total?: RateLimit;
  /** One bucket per calling SPIFFE identity (plaintext callers share one, `unauthenticated`). */
  readonly identity?: RateLimit;
  /** Per-identity buckets for named callers, replacing `identity` for them. */
  readonly overrides?: readonly RateLimitOverride[];
  /** Buckets per header value. */
  readonly perHeader?: readonly HeaderRateLimit[];
}

/**
 * Where one part of a global limit's key comes from (Envoy's rate-limit actions): the calling
 * SPIFFE identity, or a request header's value. A request that lacks a part (no such header) is
 * not counted against the global limit, as Envoy skips a descriptor an action cannot fill.
 */
export type GlobalDescriptor = { readonly source: 'identity' } | { readonly source: 'header'; readonly header: string };
export const DESCRIPTOR_SOURCES = ['identity', 'header'] as const;

export interface GlobalRateLimit {
  /** Redis `host:port` (IPv6 as `[addr]:port`). */
  readonly redis: { readonly address: string };
  /** The key's parts, in order: one limit per distinct combination of values. Absent: one limit for all requests. */
  readonly descriptors?: readonly GlobalDescriptor[];
  /** The limit shared by every proxy that enforces the policy, as GCRA's rate and burst (per key). */
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly algorithm: RateLimitAlgorithm;
  readonly failureMode: RateLimitFailureMode;
  /** While Redis is unreachable, each proxy also applies this local bucket (burst = ceil(rate)). Absent: none. */
  readonly fallbackLocalRequestsPerSecond?: number;
}

/**
 * What a policy limits (Gateway API policy attachment): a Service, or one HTTPRoute or GRPCRoute
 * (`group: gateway.networking.k8s.io`): then only the requests that route matched, in the callers'
 * sidecars (direction outbound), which are the ones that match routes.
 */
export interface RateLimitTargetRef {
  readonly group?: string;
  readonly kind: 'Service' | 'HTTPRoute' | 'GRPCRoute';
  readonly name: string;
}
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface RateLimitPolicySpec {
  readonly targetRefs: readonly RateLimitTargetRef[];
  readonly direction: RateLimitDirection;
  readonly local?: LocalRateLimit;
  readonly global?: GlobalRateLimit;
}

export const MAX_REQUESTS_PER_SECOND = 1_000_000;
/** Buckets per per-identity or per-header map; beyond it the least recently used bucket is dropped. */
export const MAX_KEYS = 10_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

/** `host:port` → parts, or a reason it does not parse. IPv6 literals in brackets. */
export function parseRedisAddress(address: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)):([0-9]{1,5})$/.exec(address);
  if (!m) return `must be host:port (a host name, an IPv4 address or [IPv6]) , got ${JSON.stringify(address)}`;
  const port = Number(m[4]);
  if (port < 1 || port > 65535) return `port must be 1-65535, got ${port}`;
  return { host: m[1] ?? m[2]!, port };
}

function readRate(c: Checker, raw: unknown, path: string, required: boolean): number | undefined {
  if (raw === undefined) {
    if (required) c.fail(path, 'is required (requests per second, > 0)');
    return undefined;
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0 || raw > MAX_REQUESTS_PER_SECOND) {
    c.fail(path, `must be a number above 0 and at most ${MAX_REQUESTS_PER_SECOND}, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  // Below one request a day is a typo, not a limit.
  if (raw < 1 / 86_400) {
    c.fail(path, `must allow at least one request a day (>= ${1 / 86_400}), got ${raw}`);
    return undefined;
  }
  return raw;
}

/** The default burst: one second's worth of tokens, at least one. */
export const defaultBurst = (rps: number): number => Math.max(1, Math.ceil(rps));

/** `{requestsPerSecond, burst?}` plus `extra` known fields; undefined when invalid. */
function readBucket(c: Checker, raw: unknown, path: string, extra: readonly string[] = []): (RateLimit & { o: Record<string, unknown> }) | undefined {
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['requestsPerSecond', 'burst', ...extra]);
  const rps = readRate(c, o.requestsPerSecond, join(path, 'requestsPerSecond'), true);
  const burst = c.integer(o.burst, join(path, 'burst'), { min: 1, max: MAX_REQUESTS_PER_SECOND });
  if (rps === undefined) return undefined;
  return { requestsPerSecond: rps, burst: burst ?? defaultBurst(rps), o };
}

const plain = (b: RateLimit): RateLimit => ({ requestsPerSecond: b.requestsPerSecond, burst: b.burst });

function readClientRefs(c: Checker, raw: unknown, path: string): ClientRef[] {
  const out: ClientRef[] = [];
  (c.array(raw, path, { required: true, min: 1, max: 64 }) ?? []).forEach((rawRef, i) => {
    const rp = join(path, i);
    const r = c.object(rawRef, rp);
    if (!r) return;
    c.noUnknown(r, rp, ['kind', 'name', 'namespace']);
    const kind = c.oneOf(r.kind, join(rp, 'kind'), ['Service', 'ServiceAccount'] as const, { required: true });
    const name = c.string(r.name, join(rp, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const namespace = c.string(r.namespace, join(rp, 'namespace'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    if (kind && name && namespace) out.push({ kind, name, namespace });
  });
  return out;
}

function readLocal(c: Checker, raw: unknown, path: string): LocalRateLimit | undefined {
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['total', 'identity', 'overrides', 'perHeader']);
  const total = o.total === undefined ? undefined : readBucket(c, o.total, join(path, 'total'));
  const identity = o.identity === undefined ? undefined : readBucket(c, o.identity, join(path, 'identity'));
  let overrides: RateLimitOverride[] | undefined;
  if (o.overrides !== undefined) {
    overrides = [];
    (c.array(o.overrides, join(path, 'overrides'), { min: 1, max: 64 }) ?? []).forEach((rawO, i) => {
      const op = join(join(path, 'overrides'), i);
      const b = readBucket(c, rawO, op, ['clientRefs']);
      const clientRefs = b ? readClientRefs(c, b.o.clientRefs, join(op, 'clientRefs')) : [];
      if (b && clientRefs.length) overrides!.push({ ...plain(b), clientRefs });
    });
  }
  let perHeader: HeaderRateLimit[] | undefined;
  if (o.perHeader !== undefined) {
    perHeader = [];
    const seen = new Set<string>();
    (c.array(o.perHeader, join(path, 'perHeader'), { min: 1, max: 8 }) ?? []).forEach((rawH, i) => {
      const hp = join(join(path, 'perHeader'), i);
      const b = readBucket(c, rawH, hp, ['name']);
      if (!b) return;
      const name = c.string(b.o.name, join(hp, 'name'), { required: true, pattern: HEADER_NAME, patternHint: 'an HTTP header name (the source of the bucket key)' });
      if (name === undefined) return;
      const lower = name.toLowerCase();
      if (seen.has(lower)) c.fail(join(hp, 'name'), `names header ${lower} twice`);
      seen.add(lower);
      perHeader!.push({ ...plain(b), name: lower });
    });
  }
  if (o.total === undefined && o.identity === undefined && o.overrides === undefined && o.perHeader === undefined) c.fail(path, 'names no limit: give total, identity, overrides or perHeader');
  if (o.overrides !== undefined && o.identity === undefined) c.fail(join(path, 'overrides'), 'override the per-identity limit: set identity too');
  return {
    ...(total && { total: plain(total) }),
    ...(identity && { identity: plain(identity) }),
    ...(overrides && { overrides }),
    ...(perHeader && { perHeader }),
  };
}

function readGlobal(c: Checker, raw: unknown, path: string): GlobalRateLimit | undefined {
  const b = readBucket(c, raw, path, ['redis', 'descriptors', 'algorithm', 'failureMode', 'fallbackLocalRequestsPerSecond']);
  if (!b) {
    // Still report what else is wrong in it.
    const o = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
    if (o) readRedis(c, o.redis, join(path, 'redis'));
    return undefined;
  }
  const redis = readRedis(c, b.o.redis, join(path, 'redis'));
  const algorithm = c.oneOf(b.o.algorithm, join(path, 'algorithm'), RATE_LIMIT_ALGORITHMS) ?? 'gcra';
  const failureMode = c.oneOf(b.o.failureMode, join(path, 'failureMode'), RATE_LIMIT_FAILURE_MODES) ?? 'open';
  const fallback = readRate(c, b.o.fallbackLocalRequestsPerSecond, join(path, 'fallbackLocalRequestsPerSecond'), false);
  const descriptors = b.o.descriptors === undefined ? undefined : readDescriptors(c, b.o.descriptors, join(path, 'descriptors'));
  if (!redis) return undefined;
  return { redis, ...(descriptors && { descriptors }), ...plain(b), algorithm, failureMode, ...(fallback !== undefined && { fallbackLocalRequestsPerSecond: fallback }) };
}

function readDescriptors(c: Checker, raw: unknown, path: string): GlobalDescriptor[] {
  const out: GlobalDescriptor[] = [];
  (c.array(raw, path, { min: 1, max: 4 }) ?? []).forEach((rawD, i) => {
    const dp = join(path, i);
    const d = c.object(rawD, dp);
    if (!d) return;
    c.noUnknown(d, dp, ['source', 'header']);
    const source = c.oneOf(d.source, join(dp, 'source'), DESCRIPTOR_SOURCES, { required: true });
    if (source === 'identity') {
      if (d.header !== undefined) c.fail(join(dp, 'header'), 'is only for source: header');
      out.push({ source });
    } else if (source === 'header') {
      const header = c.string(d.header, join(dp, 'header'), { required: true, pattern: HEADER_NAME, patternHint: 'an HTTP header name (the source of this part of the key)' });
      if (header !== undefined) out.push({ source, header: header.toLowerCase() });
    }
  });
  return out;
}

function readRedis(c: Checker, raw: unknown, path: string): { address: string } | undefined {
  if (raw === undefined) {
    c.fail(path, 'is required ({address: "host:port"})');
    return undefined;
  }
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['address']);
  const address = c.string(o.address, join(path, 'address'), { required: true, max: 262 });
  if (address === undefined) return undefined;
  const parsed = parseRedisAddress(address);
  if (typeof parsed === 'string') {
    c.fail(join(path, 'address'), parsed);
    return undefined;
  }
  return { address };
}

/** The local and global parts at `path` (a spec, or a snapshot's copy of one); shared by the API and the proxy's snapshot check. */
export function readRateLimitSpec(c: Checker, spec: Record<string, unknown>, path: string): Omit<RateLimitPolicySpec, 'targetRefs'> {
  const direction = c.oneOf(spec.direction, join(path, 'direction'), RATE_LIMIT_DIRECTIONS) ?? 'inbound';
  const local = spec.local === undefined ? undefined : readLocal(c, spec.local, join(path, 'local'));
  const global = spec.global === undefined ? undefined : readGlobal(c, spec.global, join(path, 'global'));
  if (spec.local === undefined && spec.global === undefined) c.fail(path, 'must set local, global or both');
  return { direction, ...(local && { local }), ...(global && { global }) };
}

function readTargetRefs(c: Checker, raw: unknown, path: string): RateLimitTargetRef[] {
  const out: RateLimitTargetRef[] = [];
  (c.array(raw, path, { required: true, min: 1, max: 16 }) ?? []).forEach((rawRef, i) => {
    const rp = join(path, i);
    const ref = c.object(rawRef, rp);
    if (!ref) return;
    c.noUnknown(ref, rp, ['group', 'kind', 'name']);
    const kind = c.oneOf(ref.kind, join(rp, 'kind'), ['Service', 'HTTPRoute', 'GRPCRoute'] as const, { required: true });
    const name = c.string(ref.name, join(rp, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const routeKind = kind === 'HTTPRoute' || kind === 'GRPCRoute';
    const group = c.string(ref.group, join(rp, 'group'), { max: 253 });
    if (group !== undefined && group !== (routeKind ? GATEWAY_GROUP : '')) c.fail(join(rp, 'group'), routeKind ? `must be ${GATEWAY_GROUP} for a ${kind}` : 'must be "" (the core group) for a Service');
    if (kind && name) out.push(routeKind ? { group: GATEWAY_GROUP, kind, name } : { kind, name });
  });
  return out;
}

function validateSpec(raw: unknown, path: string): ValidationResult<RateLimitPolicySpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'direction', 'local', 'global']);
  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));
  const rest = readRateLimitSpec(c, spec, path);
  if (rest.direction === 'inbound' && targetRefs.some((t) => t.kind !== 'Service')) {
    c.fail(join(path, 'direction'), 'a policy on an HTTPRoute or GRPCRoute is enforced by the callers\' sidecars, which match routes: set direction: outbound');
  }
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { targetRefs, ...rest } };
}

export const rateLimitPolicyType: ResourceType<RateLimitPolicySpec> = {
  kind: 'RateLimitPolicy',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'ratelimitpolicies',
  aliases: ['ratelimitpolicy', 'ratelimit', 'rlp'],
  namespaced: true,
  validateSpec,
};
