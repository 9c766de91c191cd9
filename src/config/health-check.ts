// Active health checks, the shared vocabulary: validation of one `checks[i]` of a registration (the
// control plane's API and the sidecar's own flags use the same reader), the defaults, and the
// `health` report a sidecar sends up its stream with the results of the checks it runs itself.

import type { CheckResult, HealthCheckSpec, HealthStatus, StatusRange } from './catalog-types.ts';
import type { ValidationResult } from './resource.ts';
import { Checker, join } from './validate.ts';

/** Envoy's expected_statuses default is [200, 201); weft has always taken any 2xx or 3xx. */
export const DEFAULT_EXPECTED_STATUSES: readonly StatusRange[] = [{ start: 200, end: 400 }];
export const DEFAULT_CHECK_INTERVAL_MS = 5_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;
/** The User-Agent of checks a sidecar runs (the control plane's own say `weft-health-check`). */
export const SIDECAR_CHECK_USER_AGENT = 'weft-sidecar-health-check';
export const CONTROL_PLANE_CHECK_USER_AGENT = 'weft-health-check';

const CHECK_FIELDS = [
  'type', 'host', 'port', 'path', 'hostHeader', 'expectedStatuses', 'serviceName',
  'intervalMs', 'timeoutMs', 'intervalSeconds', 'timeoutSeconds', 'intervalJitterMs', 'intervalJitterPercent',
  'unhealthyThreshold', 'healthyThreshold', 'checkedBy',
];

/**
 * Reads one check at `path`, recording field-path errors in `c`; returns the check with defaults
 * filled (intervalMs 5000, timeoutMs 2000, thresholds 1, http path `/`, expectedStatuses 200–399,
 * checkedBy control-plane), or undefined when it is not even an object. `intervalSeconds` and
 * `timeoutSeconds` are the older whole-second forms: accepted, turned into ms, never both forms.
 */
export function readHealthCheck(c: Checker, raw: unknown, path: string): HealthCheckSpec | undefined {
  const ch = c.object(raw, path);
  if (!ch) return undefined;
  c.noUnknown(ch, path, CHECK_FIELDS);
  const type = c.oneOf(ch.type, join(path, 'type'), ['http', 'tcp', 'grpc'] as const, { required: true });
  const checkPath = c.string(ch.path, join(path, 'path'), { pattern: /^\/[\x21-\x7e]*$/, patternHint: 'a path starting with / (no spaces or control characters)' });
  const hostHeader = c.string(ch.hostHeader, join(path, 'hostHeader'), { pattern: /^[A-Za-z0-9.:[\]-]{1,255}$/, patternHint: 'a host name or host:port' });
  const serviceName = c.string(ch.serviceName, join(path, 'serviceName'), { max: 255 });
  if (type !== 'http') {
    for (const field of ['path', 'hostHeader', 'expectedStatuses'] as const) if (ch[field] !== undefined) c.fail(join(path, field), `applies to http checks only, not ${type}`);
  }
  if (type !== 'grpc' && ch.serviceName !== undefined) c.fail(join(path, 'serviceName'), `applies to grpc checks only, not ${type}`);

  const expectedStatuses: StatusRange[] = [];
  if (ch.expectedStatuses !== undefined) {
    (c.array(ch.expectedStatuses, join(path, 'expectedStatuses'), { min: 1, max: 16 }) ?? []).forEach((r, i) => {
      const rp = join(join(path, 'expectedStatuses'), i);
      const range = c.object(r, rp);
      if (!range) return;
      c.noUnknown(range, rp, ['start', 'end']);
      const start = c.integer(range.start, join(rp, 'start'), { required: true, min: 100, max: 599 });
      const end = c.integer(range.end, join(rp, 'end'), { required: true, min: 101, max: 600 });
      if (start !== undefined && end !== undefined) {
        if (end <= start) c.fail(join(rp, 'end'), `must be greater than start (${start}); end is exclusive, as in Envoy's expected_statuses`);
        else expectedStatuses.push({ start, end });
      }
    });
  }

  const intervalMs = msField(c, ch, path, 'interval', { minMs: 100, maxMs: 3_600_000 }) ?? DEFAULT_CHECK_INTERVAL_MS;
  const timeoutMs = msField(c, ch, path, 'timeout', { minMs: 10, maxMs: 600_000 }) ?? DEFAULT_CHECK_TIMEOUT_MS;
  const intervalJitterMs = c.integer(ch.intervalJitterMs, join(path, 'intervalJitterMs'), { min: 0, max: 3_600_000 });
  const intervalJitterPercent = c.integer(ch.intervalJitterPercent, join(path, 'intervalJitterPercent'), { min: 0, max: 100 });
  const checkedBy = c.oneOf(ch.checkedBy, join(path, 'checkedBy'), ['control-plane', 'sidecar'] as const) ?? 'control-plane';

  return {
    type: type ?? 'tcp',
    host: c.string(ch.host, join(path, 'host'), { max: 255 }),
    port: c.integer(ch.port, join(path, 'port'), { min: 1, max: 65535 }),
    ...(type === 'http' ? { path: checkPath ?? '/', expectedStatuses: expectedStatuses.length ? expectedStatuses : DEFAULT_EXPECTED_STATUSES } : {}),
    ...(hostHeader !== undefined && type === 'http' ? { hostHeader } : {}),
    ...(type === 'grpc' ? { serviceName: serviceName ?? '' } : {}),
    intervalMs,
    timeoutMs,
    ...(intervalJitterMs ? { intervalJitterMs } : {}),
    ...(intervalJitterPercent ? { intervalJitterPercent } : {}),
    unhealthyThreshold: c.integer(ch.unhealthyThreshold, join(path, 'unhealthyThreshold'), { min: 1, max: 100 }) ?? 1,
    healthyThreshold: c.integer(ch.healthyThreshold, join(path, 'healthyThreshold'), { min: 1, max: 100 }) ?? 1,
    checkedBy,
  };
}

/** `<name>Ms` or the older `<name>Seconds` (whole seconds, 1–3600 / 1–600), never both. */
function msField(c: Checker, ch: Record<string, unknown>, path: string, name: 'interval' | 'timeout', range: { minMs: number; maxMs: number }): number | undefined {
  const msKey = `${name}Ms`;
  const sKey = `${name}Seconds`;
  if (ch[msKey] !== undefined && ch[sKey] !== undefined) {
    c.fail(join(path, sKey), `give ${msKey} or ${sKey}, not both`);
    return undefined;
  }
  const ms = c.integer(ch[msKey], join(path, msKey), { min: range.minMs, max: range.maxMs });
  if (ms !== undefined) return ms;
  const s = c.integer(ch[sKey], join(path, sKey), { min: 1, max: range.maxMs / 1000 });
  return s === undefined ? undefined : s * 1000;
}

/**
 * A check as stored before intervalMs/timeoutMs/expectedStatuses/checkedBy existed (whole seconds
 * only) made whole, so instances persisted by an older control plane keep their checks.
 */
export function completeHealthCheck(stored: HealthCheckSpec): HealthCheckSpec {
  const s = stored as HealthCheckSpec & { intervalMs?: number; timeoutMs?: number };
  return {
    ...s,
    intervalMs: s.intervalMs ?? (s.intervalSeconds ?? 5) * 1000,
    timeoutMs: s.timeoutMs ?? (s.timeoutSeconds ?? 2) * 1000,
    ...(s.type === 'http' && !s.expectedStatuses ? { expectedStatuses: DEFAULT_EXPECTED_STATUSES } : {}),
    checkedBy: s.checkedBy ?? 'control-plane',
  };
}

/** Whether an HTTP status is one of the check's expected statuses (ranges with `end` exclusive). */
export function statusExpected(ranges: readonly StatusRange[] | undefined, status: number): boolean {
  for (const r of ranges ?? DEFAULT_EXPECTED_STATUSES) if (status >= r.start && status < r.end) return true;
  return false;
}

/** One check's state in a sidecar's `health` report: index for index with the registration's `checks`. */
export interface ReportedCheck {
  readonly status: HealthStatus;
  /** What the probe saw, e.g. `http check /healthz answered 503` (at most 1024 characters). */
  readonly output: string;
}

/** Validates the `checks` of a `health` stream message (at most 8, like a registration's). */
export function validateHealthReport(raw: unknown): ValidationResult<ReportedCheck[]> {
  const c = new Checker();
  const out: ReportedCheck[] = [];
  (c.array(raw, 'checks', { required: true, max: 8 }) ?? []).forEach((r, i) => {
    const p = join('checks', i);
    const o = c.object(r, p);
    if (!o) return;
    const status = c.oneOf(o.status, join(p, 'status'), ['passing', 'warning', 'critical'] as const, { required: true });
    const output = c.string(o.output, join(p, 'output'), { max: 1024 }) ?? '';
    if (status) out.push({ status, output });
  });
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value: out };
}

export type { CheckResult };
