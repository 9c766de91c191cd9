// Open-loop load at a fixed rate (wrk cannot do that) over C keep-alive connections; each latency
// counts from the request's *scheduled* send time, so a stalled proxy shows in p99 instead of slowing
// the load (no coordinated omission). CLI: node bench/lib/fixed-rate.ts --port N (prints JSON).

import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface FixedRateOptions {
  readonly port: number;
  readonly host?: string;
  readonly hostHeader?: string;
  readonly path?: string;
  readonly rate: number;
  readonly seconds: number;
  readonly connections: number;
  /** Seconds of load sent before the measured `seconds`, not counted. */
  readonly warmupSeconds: number;
}

export interface FixedRateResult {
  readonly rate: number;
  readonly seconds: number;
  readonly scheduled: number;
  readonly measured: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly unfinished: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** The same percentiles over the 2xx answers only (what an overload bench calls admitted requests). */
  readonly okP50Ms: number;
  readonly okP99Ms: number;
  readonly statusCounts: Record<string, number>;
  readonly errorSamples: string[];
}

interface Conn {
  readonly socket: net.Socket;
  buf: Buffer;
  /** Sequence number of the request in flight; its latency counts from its scheduled time. */
  seq: number | undefined;
  dead: boolean;
}

/** Length of one complete response at the head of buf (status, total bytes), or undefined if incomplete. */
function parseResponse(buf: Buffer): { status: number; length: number; close: boolean } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:\s*close/.test(head);
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
  let pos = headEnd + 4;
  if (cl) {
    const end = pos + Number(cl[1]);
    return buf.length >= end ? { status, length: end, close } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) {
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd === -1) return undefined;
      const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
      pos = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', pos);
        return trailerEnd === -1 ? undefined : { status, length: trailerEnd + 2, close };
      }
      pos += size + 2;
      if (pos > buf.length) return undefined;
    }
  }
  return { status, length: pos, close }; // no body (204/304) or read-until-close, which we do not use
}

const pct = (sorted: Float64Array, p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
const round = (n: number): number => Math.round(n * 1000) / 1000;

export function fixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  const host = o.host ?? '127.0.0.1';
  const request = Buffer.from(`GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.hostHeader ?? `${host}:${o.port}`}\r\nUser-Agent: weft-bench\r\n\r\n`);
  const warmupCount = Math.round(o.rate * o.warmupSeconds);
  const total = warmupCount + Math.round(o.rate * o.seconds);
  const latencies = new Float64Array(total);
  const okLatencies = new Float64Array(total);
  let measured = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let finished = 0;
  const statusCounts: Record<string, number> = {};
  const errorSamples: string[] = [];
  const queue: number[] = []; // sequence numbers waiting for a free connection
  const idle: Conn[] = [];
  const conns = new Set<Conn>();
  let t0 = 0;
  let next = 0;
  let stopped = false;
  const due = (seq: number): number => t0 + (seq * 1000) / o.rate;

  return new Promise((resolve) => {
    const complete = (seq: number, status: number | undefined, err?: string): void => {
      finished++;
      if (seq >= warmupCount) {
        if (status === undefined) {
          errors++;
          if (errorSamples.length < 5 && err) errorSamples.push(err);
        } else {
          statusCounts[status] = (statusCounts[status] ?? 0) + 1;
          const ms = performance.now() - due(seq);
          if (status >= 200 && status < 300) okLatencies[ok++] = ms;
          else non2xx++;
          latencies[measured++] = ms;
        }
      }
      if (finished === total) finish();
    };

    const send = (c: Conn, seq: number): void => {
      c.seq = seq;
      c.socket.write(request);
    };
    const release = (c: Conn): void => {
      const waiting = queue.shift();
      if (waiting !== undefined) send(c, waiting);
      else idle.push(c);
    };

    const open = (): void => {
      const c: Conn = { socket: net.connect({ host, port: o.port }), buf: Buffer.alloc(0), seq: undefined, dead: false };
      conns.add(c);
      c.socket.setNoDelay(true);
      c.socket.on('connect', () => release(c));
      c.socket.on('data', (chunk: Buffer) => {
        c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
        const r = parseResponse(c.buf);
        if (!r || c.seq === undefined) return;
        c.buf = c.buf.subarray(r.length);
        const seq = c.seq;
        c.seq = undefined;
        complete(seq, r.status);
        if (r.close) c.socket.destroy();
        else release(c);
      });
      const drop = (err?: Error): void => {
        if (c.dead) return;
        c.dead = true;
        conns.delete(c);
        const i = idle.indexOf(c);
        if (i !== -1) idle.splice(i, 1);
        if (c.seq !== undefined) complete(c.seq, undefined, err ? err.message : 'connection closed before the response ended');
        if (!stopped) setTimeout(open, 10);
      };
      c.socket.on('error', (err) => drop(err));
      c.socket.on('close', () => drop());
    };

    let drainTimer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      const now = performance.now();
      while (next < total && due(next) <= now) {
        const c = idle.pop();
        if (c) send(c, next);
        else queue.push(next);
        next++;
      }
      if (next < total) setTimeout(tick, Math.max(0, due(next) - performance.now()));
      else drainTimer = setTimeout(finish, 5_000); // unanswered 5 s after the last send: unfinished
    };

    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      stopped = true;
      clearTimeout(drainTimer);
      for (const c of conns) c.socket.destroy();
      const sorted = latencies.slice(0, measured).sort();
      const okSorted = okLatencies.slice(0, ok).sort();
      resolve({
        rate: o.rate,
        seconds: o.seconds,
        scheduled: total - warmupCount,
        measured,
        ok,
        non2xx,
        errors,
        unfinished: total - finished,
        p50Ms: round(pct(sorted, 50)),
        p90Ms: round(pct(sorted, 90)),
        p99Ms: round(pct(sorted, 99)),
        p999Ms: round(pct(sorted, 99.9)),
        maxMs: round(sorted.length ? sorted[sorted.length - 1] : NaN),
        okP50Ms: round(pct(okSorted, 50)),
        okP99Ms: round(pct(okSorted, 99)),
        statusCounts,
        errorSamples,
      });
    };

    for (let i = 0; i < o.connections; i++) open();
    // Give the connections a moment to open so the first scheduled requests do not pay for it.
    setTimeout(() => {
      t0 = performance.now();
      tick();
    }, 200);
  });
}

/** Runs the generator as its own process, pinned to `cpu`, so it never shares a core with the proxy. */
export function runFixedRate(o: FixedRateOptions, cpu: string, nodeBin: string): Promise<FixedRateResult> {
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--port', String(o.port), '--rate', String(o.rate), '--seconds', String(o.seconds), '--connections', String(o.connections), '--warmup', String(o.warmupSeconds)];
  if (o.hostHeader) args.push('--host-header', o.hostHeader);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, nodeBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const guard = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 30) * 1000);
    child.once('close', (code) => {
      clearTimeout(guard);
      if (code !== 0) return reject(new Error(`fixed-rate loadgen exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as FixedRateResult);
      } catch {
        reject(new Error(`fixed-rate loadgen printed no result: ${out}${err}`));
      }
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({
    options: {
      port: { type: 'string' },
      'host-header': { type: 'string' },
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      warmup: { type: 'string', default: '1' },
    },
  });
  const result = await fixedRate({
    port: Number(v.port),
    hostHeader: v['host-header'],
    rate: Number(v.rate),
    seconds: Number(v.seconds),
    connections: Number(v.connections),
    warmupSeconds: Number(v.warmup),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}
