// Saturation throughput: runs `wrk` pinned beside the upstream and parses its summary, keeping the
// error lines (non-2xx/3xx responses, socket errors) that tell a fast proxy from a broken one.

import { spawn } from 'node:child_process';

export interface WrkResult {
  readonly requestsPerSec: number;
  readonly requests: number;
  readonly seconds: number;
  readonly latencyAvgMs: number;
  readonly non2xx3xx: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  readonly raw: string;
}

export interface WrkOptions {
  readonly url: string;
  readonly host?: string;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  readonly cpu?: string;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(raw: string): WrkResult {
  const num = (re: RegExp): number => Number(re.exec(raw)?.[1] ?? 0);
  const lat = /Latency\s+([\d.]+)(us|ms|s|m)\b/.exec(raw);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(raw);
  if (!/Requests\/sec:/.test(raw) || !total) throw new Error(`cannot parse wrk output:\n${raw}`);
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    requests: Number(total[1]),
    seconds: toMs(total[2], total[3]) / 1000,
    latencyAvgMs: lat ? toMs(lat[1], lat[2]) : 0,
    non2xx3xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: sock
      ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    raw,
  };
}

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '5s', ...(o.host ? ['-H', `Host: ${o.host}`] : []), o.url];
  const [cmd, argv] = o.cpu !== undefined ? ['taskset', ['-c', o.cpu, 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    // wrk stops itself after -d; this only guards against a wedged run.
    const guard = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 30) * 1000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(guard);
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out}`));
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(err);
      }
    });
  });
}
