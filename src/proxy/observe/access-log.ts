// Access logs: one JSON line per ended request, built from its fate record, when MeshConfig
// `accessLog.enabled`. Sampled by `sampleRate`; errors (5xx, local replies) always logged unless
// `alwaysLogErrors: false`. Off: nothing here runs on the request path.

import fs from 'node:fs';
import { ACCESS_LOG_FIELDS, type AccessLogConfig, type AccessLogField } from '../../config/kinds/mesh-config-observability.ts';
import type { FateRecord } from './fate.ts';

/** Where lines go: stdout or an appended file. */
export interface LineSink {
  write(line: string): void;
  /** Resolves once what was written is flushed (a file) or at once (stdout). */
  close(): Promise<void>;
}

/** process.stdout, or a file opened for appending (created if missing). `onError`: the file cannot be written. */
export function openSink(path: string, onError: (err: Error) => void): LineSink {
  if (path === 'stdout') return { write: (line) => void process.stdout.write(line), close: async () => {} };
  const stream = fs.createWriteStream(path, { flags: 'a' });
  stream.on('error', onError);
  return { write: (line) => void stream.write(line), close: () => new Promise<void>((resolve) => stream.end(resolve)) };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** One field's value from a fate, or undefined to leave it out of the line. */
function field(f: FateRecord, name: AccessLogField, proxy: string): string | number | undefined {
  switch (name) {
    case 'time': return new Date(performance.timeOrigin + f.startedAt).toISOString();
    case 'requestId': return f.requestId;
    case 'traceId': return f.traceId;
    case 'spanId': return f.spanId;
    case 'direction': return f.direction;
    case 'proxy': return proxy;
    case 'sourceService': return f.sourceService;
    case 'sourceIdentity': return f.sourceIdentity;
    case 'destinationService': return f.destinationService;
    case 'destinationIdentity': return f.destinationIdentity;
    case 'route': return f.route;
    case 'rule': return f.rule;
    case 'method': return f.method;
    case 'authority': return f.authority;
    case 'path': return f.path;
    case 'status': return f.status;
    case 'reason': return f.reason;
    case 'attempts': return f.attempts?.length ?? 0;
    case 'endpoint': return f.attempts?.[f.attempts.length - 1]?.endpoint;
    case 'bytesReceived': return f.bytesReceived;
    case 'bytesSent': return f.bytesSent;
    case 'durationMs': return round(f.endedAt - f.startedAt);
    case 'upstreamDurationMs': {
      const last = f.attempts?.[f.attempts.length - 1];
      return last === undefined ? undefined : round(last.durationMs);
    }
  }
}

/** The line for a fate: a JSON object of the configured fields (absent values left out), and a newline. */
export function accessLogLine(f: FateRecord, proxy: string, fields: readonly AccessLogField[] = ACCESS_LOG_FIELDS): string {
  const o: Record<string, string | number> = {};
  for (const name of fields) {
    const v = field(f, name, proxy);
    if (v !== undefined) o[name] = v;
  }
  return JSON.stringify(o) + '\n';
}

/** An enabled access log: decides per fate whether to write its line. `random`: [0, 1), injected in tests. */
export class AccessLog {
  readonly config: AccessLogConfig;
  readonly #sink: LineSink;
  readonly #proxy: string;
  readonly #random: () => number;

  constructor(config: AccessLogConfig, sink: LineSink, proxy: string, random: () => number = Math.random) {
    this.config = config;
    this.#sink = sink;
    this.#proxy = proxy;
    this.#random = random;
  }

  /** Writes the fate's line if it is sampled, or an error that is always logged. Returns whether it wrote. */
  log(f: FateRecord): boolean {
    const c = this.config;
    const logged = (c.alwaysLogErrors && (f.status >= 500 || f.reason !== undefined)) || (c.sampleRate >= 1 || (c.sampleRate > 0 && this.#random() < c.sampleRate));
    if (logged) this.#sink.write(accessLogLine(f, this.#proxy, c.fields));
    return logged;
  }

  close(): Promise<void> {
    return this.#sink.close();
  }
}
