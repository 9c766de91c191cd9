// A data plane's observation point: the handlers open a fate record as a request arrives (its id
// and trace context read once) and close it as it ends; closing files it in the rings, writes its
// access-log line and exports its span, as MeshConfig says, and shows it to open taps (tap.ts).
// Settings change with each snapshot.

import type { NodeInfo } from '../../config/snapshot-types.ts';
import type { ObservabilitySnapshot, AccessLogConfig, TracingConfig } from '../../config/kinds/mesh-config-observability.ts';
import type { LocalReplyReason } from '../http/local-reply.ts';
import type { Logger } from '../../lib/log.ts';
import { FateRecord, type Direction } from './fate.ts';
import { FateStore } from './fate-ring.ts';
import { AccessLog, openSink } from './access-log.ts';
import { REQUEST_ID_HEADER, acceptedRequestId, newRequestId } from './request-id.ts';
import { TRACEPARENT, formatTraceparent, newSpanId, newTraceId, parseTraceparent, readTraceContext } from './trace-context.ts';
import type { SpanExport } from './otlp-export.ts';
import { TapHub } from './tap.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface ObserverOptions {
  readonly node: NodeInfo;
  readonly proxyId: string;
  readonly log?: Pick<Logger, 'warn'>;
  /** [0, 1) for sampling; injected in tests. */
  readonly random?: () => number;
  /** Replaces the OTLP exporter (tests): called once tracing is first configured. */
  readonly spanExport?: (url: string) => Promise<SpanExport>;
}

export class Observer {
  readonly fates = new FateStore();
  /** Live taps (admin GET /tap); costs the request path one boolean check while none is open. */
  readonly taps: TapHub;
  readonly proxyId: string;
  readonly #node: NodeInfo;
  readonly #random: () => number;
  readonly #log: Pick<Logger, 'warn'> | undefined;
  readonly #loadExport: (url: string) => Promise<SpanExport>;
  #accessLog: AccessLog | undefined = undefined;
  #accessLogConfig: AccessLogConfig | undefined = undefined;
  #tracing: TracingConfig | undefined = undefined;
  /** The exporter for the endpoint in force; undefined until its module has loaded (spans ended before are dropped). */
  #export: SpanExport | undefined = undefined;
  #exportUrl: string | undefined = undefined;

  constructor(o: ObserverOptions) {
    this.#node = o.node;
    this.proxyId = o.proxyId;
    this.taps = new TapHub(o.proxyId);
    this.#random = o.random ?? Math.random;
    this.#log = o.log;
    const source = { service: o.node.service, namespace: o.node.namespace, proxyId: o.proxyId };
    // Lazy: the OpenTelemetry packages load only when a MeshConfig asks for tracing.
    this.#loadExport = o.spanExport ?? (async (url) => (await import('./otlp-export.ts')).createSpanExport(url, source));
  }

  /** The settings of a new snapshot (absent: no access log, no tracing). */
  apply(o: ObservabilitySnapshot | undefined): void {
    const al = o?.accessLog?.enabled ? o.accessLog : undefined;
    if (JSON.stringify(al) !== JSON.stringify(this.#accessLogConfig)) {
      void this.#accessLog?.close();
      this.#accessLogConfig = al;
      this.#accessLog = al === undefined ? undefined : new AccessLog(al, openSink(al.path, (err) => this.#log?.warn('access log cannot be written', { path: al.path, error: err.message })), this.proxyId, this.#random);
    }
    const tracing = o?.tracing !== undefined && o.tracing.sampleRate >= 0 ? o.tracing : undefined;
    this.#tracing = tracing;
    if (tracing !== undefined && tracing.otlpEndpoint !== this.#exportUrl) {
      const url = (this.#exportUrl = tracing.otlpEndpoint);
      const old = this.#export;
      this.#export = undefined;
      void old?.shutdown();
      this.#loadExport(url).then(
        (e) => {
          if (this.#exportUrl === url) this.#export = e;
          else void e.shutdown();
        },
        (err: Error) => this.#log?.warn('tracing cannot start: the OpenTelemetry exporter did not load', { error: err.message }),
      );
    }
  }

  /**
   * Opens the fate of a request that just arrived. Its id is the one it carries when acceptable
   * (request-id.ts), else a new one, sent on in `fate.headers`. With tracing on, this hop gets a
   * span (child of the caller's, or a new trace), and the traceparent sent on names it.
   */
  begin(direction: Direction, method: string, authority: string, path: string, headers: Headers, startedAt: number, sourceService: string): FateRecord {
    const given = acceptedRequestId(headers[REQUEST_ID_HEADER]);
    const id = given ?? newRequestId();
    const f = new FateRecord(direction, id, startedAt, method, authority, path, sourceService);
    if (given === undefined) f.headers = { [REQUEST_ID_HEADER]: id };
    const tracing = this.#tracing;
    if (tracing !== undefined) {
      const caller = readTraceContext(headers);
      // Parent-based: the caller's decision stands; the head (first hop) decides by sampleRate.
      f.sampled = caller?.decided === true ? caller.sampled : tracing.sampleRate >= 1 || (tracing.sampleRate > 0 && this.#random() < tracing.sampleRate);
      f.traceId = caller?.traceId ?? newTraceId();
      f.parentSpanId = caller?.spanId;
      f.spanId = newSpanId();
      (f.headers ??= {})[TRACEPARENT] = formatTraceparent(f.traceId, f.spanId, f.sampled);
    } else if (headers[TRACEPARENT] !== undefined) {
      // Tracing off: the header goes on untouched; its ids still label the fate and the log line.
      const caller = parseTraceparent(headers[TRACEPARENT]);
      if (caller !== undefined) {
        f.traceId = caller.traceId;
        f.parentSpanId = caller.spanId;
        f.sampled = caller.sampled;
      }
    }
    return f;
  }

  /** The request ended (once): the fate is kept, logged and exported as configured. */
  end(f: FateRecord, status: number, reason: LocalReplyReason | undefined, endedAt: number): void {
    if (f.endedAt !== 0) return;
    f.status = status;
    f.reason ??= reason;
    f.endedAt = endedAt;
    this.fates.add(f);
    this.#accessLog?.log(f);
    if (f.sampled && f.spanId !== undefined && this.#tracing !== undefined) this.#export?.export(f);
    if (this.taps.active) this.taps.publish(f);
  }

  /** Whether a span exporter is loaded and in force (tests wait for it). */
  get tracingReady(): boolean {
    return this.#export !== undefined;
  }

  close(): void {
    void this.#accessLog?.close();
    void this.#export?.shutdown();
  }
}

/** `service.namespace` of the node (the metrics' and fates' name for it). */
export function nodeService(node: NodeInfo): string {
  return `${node.service}.${node.namespace}`;
}
