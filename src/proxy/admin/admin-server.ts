// The admin listener: /ready for `weft run` and orchestrators, /metrics for Prometheus, /config for
// people asking "what is this sidecar running?". Loopback by default; never on the data path.

import { http } from '../../lib/node-http.ts';
import type { AddressInfo } from 'node:net';

export interface AdminSources {
  ready(): { ready: boolean; why?: string };
  metrics(): string | Promise<string>;
  config(): unknown;
}

export async function startAdminServer(host: string, port: number, sources: AdminSources): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      const r = sources.ready();
      const body = JSON.stringify(r) + '\n';
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(body);
    } else if (path === '/metrics') {
      void Promise.resolve(sources.metrics()).then(
        (text) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `could not gather metrics: ${err.message}` } }) + '\n');
        },
      );
    } else if (path === '/config') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(sources.config(), null, 2) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'admin endpoints: /ready, /metrics, /config' } }) + '\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
