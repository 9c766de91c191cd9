// MeshConfig `accessLog` and `tracing`: what every sidecar logs per request and which requests it
// traces and where it sends the spans. Validated here for both the API and the proxy (NACK); the
// snapshot builder copies them into every ProxySnapshot's `observability`.

import { Checker, join } from '../validate.ts';

/** The fields an access-log line may carry (docs/concepts/observability.md, "Access logs"). */
export const ACCESS_LOG_FIELDS = [
  'time', 'requestId', 'traceId', 'spanId', 'direction', 'proxy',
  'sourceService', 'sourceIdentity', 'destinationService', 'destinationIdentity',
  'route', 'rule', 'method', 'authority', 'path', 'status', 'reason', 'attempts', 'endpoint',
  'bytesReceived', 'bytesSent', 'durationMs', 'upstreamDurationMs',
] as const;
export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];

export interface AccessLogConfig {
  /** Default false: no line is written, and the hot path builds none. */
  readonly enabled: boolean;
  /** The share of requests logged, 0–1 (default 1). */
  readonly sampleRate: number;
  /** Every request ending in a 5xx or a local reply is logged whatever the sample (default true). */
  readonly alwaysLogErrors: boolean;
  /** `stdout` (default) or an absolute file path the sidecar appends to. */
  readonly path: string;
  /** The fields of each line, in order; absent: all of ACCESS_LOG_FIELDS. */
  readonly fields?: readonly AccessLogField[];
}

export interface TracingConfig {
  /** Head sampling for requests that arrive without a sampling decision, 0–1 (default 1). */
  readonly sampleRate: number;
  /** The OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); spans are sent as OTLP JSON. */
  readonly otlpEndpoint: string;
}

/** What a ProxySnapshot carries of MeshConfig's observability (absent: none of it). */
export interface ObservabilitySnapshot {
  readonly accessLog?: AccessLogConfig;
  readonly tracing?: TracingConfig;
}

function rate(c: Checker, raw: unknown, path: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > 1) {
    c.fail(path, `must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return raw;
}

/** MeshConfig `accessLog` at `path`; undefined when absent or invalid (errors in `c`). */
export function readAccessLog(c: Checker, raw: unknown, path: string): AccessLogConfig | undefined {
  if (raw === undefined) return undefined;
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['enabled', 'sampleRate', 'alwaysLogErrors', 'path', 'fields']);
  const enabled = c.boolean(o.enabled, join(path, 'enabled')) ?? false;
  const sampleRate = rate(c, o.sampleRate, join(path, 'sampleRate'), 1);
  const alwaysLogErrors = c.boolean(o.alwaysLogErrors, join(path, 'alwaysLogErrors')) ?? true;
  const file = c.string(o.path, join(path, 'path'), { pattern: /^(stdout|\/.*)$/, patternHint: '`stdout` or an absolute file path', max: 4096 }) ?? 'stdout';
  let fields: AccessLogField[] | undefined;
  const rawFields = c.array(o.fields, join(path, 'fields'), { min: 1, max: ACCESS_LOG_FIELDS.length });
  if (rawFields) {
    fields = [];
    rawFields.forEach((f, i) => {
      const v = c.oneOf(f, join(join(path, 'fields'), i), ACCESS_LOG_FIELDS);
      if (v !== undefined) fields!.push(v);
    });
  }
  return { enabled, sampleRate, alwaysLogErrors, path: file, ...(fields && { fields }) };
}

/** MeshConfig `tracing` at `path`; undefined when absent or invalid (errors in `c`). */
export function readTracing(c: Checker, raw: unknown, path: string): TracingConfig | undefined {
  if (raw === undefined) return undefined;
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['sampleRate', 'otlpEndpoint']);
  const sampleRate = rate(c, o.sampleRate, join(path, 'sampleRate'), 1);
  const endpoint = c.string(o.otlpEndpoint, join(path, 'otlpEndpoint'), { required: true, max: 2048 });
  if (endpoint === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    c.fail(join(path, 'otlpEndpoint'), `must be an http:// or https:// URL (OTLP/HTTP, e.g. http://collector:4318/v1/traces), got ${JSON.stringify(endpoint)}`);
    return undefined;
  }
  return { sampleRate, otlpEndpoint: endpoint };
}

/** A snapshot's `observability` (the proxy's check before it runs it). */
export function checkObservabilitySnapshot(c: Checker, raw: unknown, path: string): void {
  if (raw === undefined) return;
  const o = c.object(raw, path);
  if (!o) return;
  c.noUnknown(o, path, ['accessLog', 'tracing']);
  readAccessLog(c, o.accessLog, join(path, 'accessLog'));
  readTracing(c, o.tracing, join(path, 'tracing'));
}
