// The span exporter, loaded only when MeshConfig `tracing` is set (the OpenTelemetry packages and
// node:https cost memory a sidecar without tracing must not pay; see footprint.test.ts). Each ended,
// sampled fate becomes one finished span handed to the SDK's BatchSpanProcessor, which sends OTLP/HTTP.

import { SpanKind, SpanStatusCode, type Attributes, type HrTime } from '@opentelemetry/api';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { FateRecord } from './fate.ts';
import { WEFT_VERSION } from '../../config/version.ts';

/** Who sends the spans: the OTel resource of this sidecar. */
export interface SpanSource {
  readonly service: string;
  readonly namespace: string;
  readonly proxyId: string;
}

export interface SpanExport {
  /** Turns an ended fate into a span and queues it (batched, sent within ~1 s). */
  export(f: FateRecord): void;
  /** Sends what is queued and stops. */
  shutdown(): Promise<void>;
}

/** performance.now() ms → OTel HrTime [seconds, nanoseconds] since the epoch. */
function hrTime(perfMs: number): HrTime {
  const epochMs = performance.timeOrigin + perfMs;
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

function hrDuration(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/**
 * A span from a fate, with OpenTelemetry's HTTP semantic conventions (http.request.method,
 * url.path, server.address, http.response.status_code, error.type) and weft's mesh attributes
 * (weft.*). Outbound: a CLIENT span; inbound: a SERVER span; the caller's span is the parent.
 */
export function fateSpan(f: FateRecord, resource: Resource): ReadableSpan {
  const attributes: Attributes = {
    'http.request.method': f.method,
    'url.path': f.path,
    'server.address': f.authority,
    'weft.request_id': f.requestId,
    'weft.direction': f.direction,
    'weft.source.service': f.sourceService,
    'weft.destination.service': f.destinationService,
    'weft.attempts': f.attempts?.length ?? 0,
  };
  if (f.status > 0) attributes['http.response.status_code'] = f.status;
  if (f.sourceIdentity !== undefined) attributes['weft.source.identity'] = f.sourceIdentity;
  if (f.destinationIdentity !== undefined) attributes['weft.destination.identity'] = f.destinationIdentity;
  if (f.route !== undefined) attributes['weft.route'] = f.route;
  if (f.rule !== undefined) attributes['weft.rule'] = f.rule;
  if (f.reason !== undefined) attributes['weft.reason'] = f.reason;
  const last = f.attempts?.[f.attempts.length - 1];
  if (last !== undefined) attributes['network.peer.address'] = last.endpoint;
  const error = f.status >= 500 || f.status === 0;
  if (error) attributes['error.type'] = f.reason ?? (f.status === 0 ? 'no-response' : String(f.status));
  const traceId = f.traceId!;
  const spanId = f.spanId!;
  const end = f.endedAt;
  return {
    // Semantic conventions: `{method} {route}` when a route matched, else the method alone.
    name: f.route !== undefined ? `${f.method} ${f.route}` : f.method,
    kind: f.direction === 'outbound' ? SpanKind.CLIENT : SpanKind.SERVER,
    spanContext: () => ({ traceId, spanId, traceFlags: 1 }),
    parentSpanContext: f.parentSpanId !== undefined ? { traceId, spanId: f.parentSpanId, traceFlags: 1, isRemote: true } : undefined,
    startTime: hrTime(f.startedAt),
    endTime: hrTime(end),
    duration: hrDuration(end - f.startedAt),
    status: error ? { code: SpanStatusCode.ERROR, message: f.message } : { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    // Each attempt, as an event at its start: the endpoint, and its status or failure.
    events: (f.attempts ?? []).map((a) => ({
      name: 'weft.attempt',
      time: hrTime(a.startedAt),
      attributes: { 'network.peer.address': a.endpoint, 'http.response.status_code': a.status, ...(a.failure !== undefined && { 'weft.failure': a.failure }), 'weft.duration_ms': a.durationMs },
      droppedAttributesCount: 0,
    })),
    ended: true,
    resource,
    instrumentationScope: { name: 'weft', version: WEFT_VERSION },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** An OTLP/HTTP (JSON) exporter to `url` behind a BatchSpanProcessor (1 s delay, 2,048 spans queued at most). */
export function createSpanExport(url: string, source: SpanSource): SpanExport {
  const resource = resourceFromAttributes({
    'service.name': source.service,
    'service.namespace': source.namespace,
    'service.instance.id': source.proxyId,
    'weft.proxy.id': source.proxyId,
  });
  const processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url, timeoutMillis: 5_000 }), scheduledDelayMillis: 1_000, maxQueueSize: 2_048 });
  return {
    export: (f) => processor.onEnd(fateSpan(f, resource)),
    shutdown: () => processor.shutdown(),
  };
}
