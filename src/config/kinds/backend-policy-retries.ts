// BackendPolicy `retries` (weft.dev/v1alpha1): which failed attempts a client sidecar sends again to
// the Service, how often, how long it waits, and the retry budget that bounds retries per Service.
// Validated here for the API and for the proxy's snapshot check; compiled in src/proxy/resilience/retry/.

import { Checker, join } from '../validate.ts';

/**
 * Envoy's `retry_on` words (config.route.v3.RetryPolicy; x-envoy-retry-on and x-envoy-retry-grpc-on).
 * HTTP: connect-failure, reset, 5xx, gateway-error, retriable-status-codes. gRPC (read from
 * `grpc-status` in the response head, i.e. a trailers-only response): cancelled, deadline-exceeded,
 * resource-exhausted, unavailable, internal.
 */
export const RETRY_ON = [
  'connect-failure',
  'reset',
  '5xx',
  'gateway-error',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'resource-exhausted',
  'unavailable',
  'internal',
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** Linkerd / Finagle retry budget, per destination Service in each client sidecar. */
export interface RetryBudgetSpec {
  /** Retries may be at most this share of the requests sent in the window (0–1); default 0.2. */
  readonly ratio?: number;
  /** Retries allowed per second on top of the ratio, so a Service with little traffic can still retry; default 10. */
  readonly minRetriesPerSecond?: number;
  /** The window requests and retries are counted over, in ms (whole seconds, 1 s–60 s); default 10000. */
  readonly ttlMs?: number;
}

/** Wait before a retry: exponential from baseIntervalMs, capped at maxIntervalMs, with equal jitter. */
export interface RetryBackoffSpec {
  /** Default 25 (ms). No retry waits less (GEP-1731: the backoff is the minimum wait). */
  readonly baseIntervalMs?: number;
  /** Default 10 × baseIntervalMs, i.e. 250 (ms) with the default base (Envoy's max_interval). */
  readonly maxIntervalMs?: number;
}

/**
 * BackendPolicy `spec.retries` as validated and stored: only the fields the user wrote besides
 * `attempts` (filled with its default), so a policy stored before a field existed reads the same;
 * completeRetries fills the rest.
 */
export interface BackendRetries {
  /** Retries after the first attempt (0–10); default 2. Each goes to another endpoint when there is one. */
  readonly attempts: number;
  /** Conditions that widen the always-on never-reached-the-app rule; absent or empty: that rule alone. */
  readonly retryOn?: readonly RetryOn[];
  /** Status codes (100–599) retried under `retriable-status-codes`. */
  readonly retriableStatusCodes?: readonly number[];
  /** Each attempt's bound in ms (0: none, the default); an attempt that outlasts it is abandoned (Envoy per_try_timeout). */
  readonly perTryTimeoutMs?: number;
  readonly backoff?: RetryBackoffSpec;
  /** Retry non-idempotent methods (POST, PATCH, …) too under `retryOn`; default false. */
  readonly retryNonIdempotent?: boolean;
  readonly budget?: RetryBudgetSpec;
}

/** BackendRetries with every default filled (what the proxy compiles). */
export interface CompleteRetries {
  readonly attempts: number;
  readonly retryOn: readonly RetryOn[];
  readonly retriableStatusCodes: readonly number[];
  readonly perTryTimeoutMs: number;
  readonly backoff: { readonly baseIntervalMs: number; readonly maxIntervalMs: number };
  readonly retryNonIdempotent: boolean;
  readonly budget: { readonly ratio: number; readonly minRetriesPerSecond: number; readonly ttlMs: number };
}

export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_BASE_INTERVAL_MS = 25;
/** Envoy: max_interval defaults to 10 × base_interval. */
export const MAX_INTERVAL_FACTOR = 10;
export const DEFAULT_RETRY_BUDGET = { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 } as const;
const MAX_STATUS_CODES = 32;
const MAX_INTERVAL_MS = 60_000;

/** `retries` with today's defaults for what it leaves out (stored policies predate most fields). */
export function completeRetries(r: Partial<BackendRetries> | undefined): CompleteRetries {
  const base = r?.backoff?.baseIntervalMs ?? DEFAULT_BASE_INTERVAL_MS;
  return {
    attempts: r?.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    retryOn: r?.retryOn ?? [],
    retriableStatusCodes: r?.retriableStatusCodes ?? [],
    perTryTimeoutMs: r?.perTryTimeoutMs ?? 0,
    backoff: { baseIntervalMs: base, maxIntervalMs: r?.backoff?.maxIntervalMs ?? Math.max(base, base * MAX_INTERVAL_FACTOR) },
    retryNonIdempotent: r?.retryNonIdempotent ?? false,
    budget: {
      ratio: r?.budget?.ratio ?? DEFAULT_RETRY_BUDGET.ratio,
      minRetriesPerSecond: r?.budget?.minRetriesPerSecond ?? DEFAULT_RETRY_BUDGET.minRetriesPerSecond,
      ttlMs: r?.budget?.ttlMs ?? DEFAULT_RETRY_BUDGET.ttlMs,
    },
  };
}

/**
 * Reads `retries` at `path` (an object); errors name the field. Returns the compact value (see
 * BackendRetries), or undefined when it had errors. `attemptsRequired`: the snapshot check, where a
 * control plane always sends attempts.
 */
export function readRetries(c: Checker, raw: unknown, path: string, opts: { attemptsRequired?: boolean } = {}): BackendRetries | undefined {
  const r = c.object(raw, path);
  if (!r) return undefined;
  const before = c.errors.length;
  c.noUnknown(r, path, ['attempts', 'retryOn', 'retriableStatusCodes', 'perTryTimeoutMs', 'backoff', 'retryNonIdempotent', 'budget']);
  const out: { -readonly [K in keyof BackendRetries]: BackendRetries[K] } = {
    attempts: c.integer(r.attempts, join(path, 'attempts'), { required: opts.attemptsRequired, min: 0, max: 10 }) ?? DEFAULT_RETRY_ATTEMPTS,
  };

  if (r.retryOn !== undefined) {
    const rp = join(path, 'retryOn');
    const retryOn: RetryOn[] = [];
    (c.array(r.retryOn, rp, { max: RETRY_ON.length }) ?? []).forEach((v, i) => {
      const word = c.oneOf(v, join(rp, i), RETRY_ON, { required: true });
      if (word === undefined) return;
      if (retryOn.includes(word)) c.fail(join(rp, i), `repeats ${word}`);
      else retryOn.push(word);
    });
    out.retryOn = retryOn;
  }

  if (r.retriableStatusCodes !== undefined) {
    const cp = join(path, 'retriableStatusCodes');
    const codes: number[] = [];
    (c.array(r.retriableStatusCodes, cp, { max: MAX_STATUS_CODES }) ?? []).forEach((v, i) => {
      const code = c.integer(v, join(cp, i), { required: true, min: 100, max: 599 });
      if (code === undefined) return;
      if (codes.includes(code)) c.fail(join(cp, i), `repeats ${code}`);
      else codes.push(code);
    });
    out.retriableStatusCodes = codes;
    // Codes that nothing retries are a mistake worth naming, not a silent no-op.
    if (codes.length > 0 && !out.retryOn?.includes('retriable-status-codes')) c.fail(cp, 'has no effect unless retryOn lists retriable-status-codes');
  }

  const perTry = c.integer(r.perTryTimeoutMs, join(path, 'perTryTimeoutMs'), { min: 0, max: 86_400_000 });
  if (perTry !== undefined) out.perTryTimeoutMs = perTry;

  if (r.backoff !== undefined) {
    const bp = join(path, 'backoff');
    const b = c.object(r.backoff, bp);
    if (b) {
      c.noUnknown(b, bp, ['baseIntervalMs', 'maxIntervalMs']);
      const baseIntervalMs = c.integer(b.baseIntervalMs, join(bp, 'baseIntervalMs'), { min: 0, max: MAX_INTERVAL_MS });
      const maxIntervalMs = c.integer(b.maxIntervalMs, join(bp, 'maxIntervalMs'), { min: 0, max: MAX_INTERVAL_MS });
      if (maxIntervalMs !== undefined && maxIntervalMs < (baseIntervalMs ?? DEFAULT_BASE_INTERVAL_MS)) {
        c.fail(join(bp, 'maxIntervalMs'), `must not be below baseIntervalMs (${baseIntervalMs ?? DEFAULT_BASE_INTERVAL_MS})`);
      }
      out.backoff = compact({ baseIntervalMs, maxIntervalMs });
    }
  }

  const nonIdempotent = c.boolean(r.retryNonIdempotent, join(path, 'retryNonIdempotent'));
  if (nonIdempotent !== undefined) out.retryNonIdempotent = nonIdempotent;

  if (r.budget !== undefined) {
    const bp = join(path, 'budget');
    const b = c.object(r.budget, bp);
    if (b) {
      c.noUnknown(b, bp, ['ratio', 'minRetriesPerSecond', 'ttlMs']);
      const ratio = readRatio(c, b.ratio, join(bp, 'ratio'));
      const minRetriesPerSecond = c.integer(b.minRetriesPerSecond, join(bp, 'minRetriesPerSecond'), { min: 0, max: 100_000 });
      const ttlMs = c.integer(b.ttlMs, join(bp, 'ttlMs'), { min: 1_000, max: 60_000 });
      if (ttlMs !== undefined && ttlMs % 1_000 !== 0) c.fail(join(bp, 'ttlMs'), `must be whole seconds (a multiple of 1000), got ${ttlMs}`);
      out.budget = compact({ ratio, minRetriesPerSecond, ttlMs });
    }
  }
  return c.errors.length === before ? out : undefined;
}

/** A share between 0 and 1 (a JSON number, not necessarily an integer). */
function readRatio(c: Checker, v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    c.fail(path, `must be a number between 0 and 1, got ${JSON.stringify(v)}`);
    return undefined;
  }
  if (v < 0 || v > 1) {
    c.fail(path, `must be between 0 and 1 (a share of requests), got ${v}`);
    return undefined;
  }
  return v;
}

function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}
