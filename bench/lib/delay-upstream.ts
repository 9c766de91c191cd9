// The slow-endpoint scenario's apps: N HTTP servers in one process, each answering after its own
// fixed delay, each timing its own requests (arrival to response end) so the bench can report the
// endpoints' own latency beside the client's. CLI: node bench/lib/delay-upstream.ts --delays 10,10,100
// prints {"ports":[…]} and serves GET /__stats (JSON, per server: count, p50, p99, p99.9 in ms) on each port.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface DelayStats {
  readonly delayMs: number;
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
}

async function serve(delayMs: number): Promise<number> {
  let samples: number[] = [];
  const body = Buffer.from('ok\n');
  const server = http.createServer((req, res) => {
    if (req.url === '/__stats') {
      const sorted = Float64Array.from(samples).sort();
      const stats: DelayStats = { delayMs, count: sorted.length, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), p999Ms: quantile(sorted, 0.999) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    if (req.url === '/__reset') {
      samples = [];
      res.writeHead(204).end();
      return;
    }
    const t0 = performance.now();
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
      samples.push(performance.now() - t0);
    }, delayMs);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({ options: { delays: { type: 'string', default: '10,10,100' } } });
  const ports = await Promise.all(v.delays!.split(',').map((d) => serve(Number(d))));
  process.stdout.write(JSON.stringify({ ports }) + '\n');
}
