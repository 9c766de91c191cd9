// Test upstream apps, in-process on loopback port 0: an echo server that names itself (so tests
// can see where a request went) and can be told to fail its health endpoint.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoServer {
  readonly name: string;
  readonly port: number;
  /** Requests served, excluding health checks. */
  hits(): number;
  setHealthy(healthy: boolean): void;
  close(): Promise<void>;
}

export async function startEcho(name: string): Promise<EchoServer> {
  let hits = 0;
  let healthy = true;
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(healthy ? 200 : 500).end(healthy ? 'ok' : 'unhealthy');
      return;
    }
    hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, host: req.headers.host, source: req.headers['x-weft-source'], body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    setHealthy: (h) => {
      healthy = h;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One GET through a sidecar's outbound listener as a forward proxy (absolute-form). */
export function getViaProxy(proxyPort: number, url: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxyPort, path: url, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Sends GETs through a sidecar on a few keep-alive connections until stopped; tallies statuses
 * (with x-weft-reason) and which echo instance served. `pauseMs` keeps it steady, not flat out.
 */
export function steadyTraffic(proxyPort: number, url: string, options: { workers?: number; pauseMs?: number } = {}) {
  const workers = options.workers ?? 4;
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const statuses: Record<string, number> = {};
  let servedBy: Record<string, number> = {};
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const res = await getViaProxy(proxyPort, url, agent);
        const key = `${res.status}${res.headers['x-weft-reason'] ? ` ${res.headers['x-weft-reason']}` : ''}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
        if (res.status === 200) {
          const name = JSON.parse(res.body).name as string;
          servedBy[name] = (servedBy[name] ?? 0) + 1;
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        statuses[code] = (statuses[code] ?? 0) + 1;
      }
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const running = Array.from({ length: workers }, worker);
  return {
    statuses,
    servedBy: () => servedBy,
    resetServedBy() {
      servedBy = {};
    },
    async stop() {
      stop = true;
      await Promise.all(running);
      agent.destroy();
    },
  };
}
