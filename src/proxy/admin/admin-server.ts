// The admin listener: /ready for `weft run` and orchestrators, /metrics for Prometheus, /config for
// people asking "what is this sidecar running?", /app-health for the control plane's health check
// of the app (the inbound port may accept only mutual TLS), /fates for `weft why` (the fates of
// recent requests), /tap for `weft tap` (a live stream of requests). Loopback by default; never on
// the data path.

import { http } from '../../lib/node-http.ts';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import type { TapSessions } from '../observe/tap-sessions.ts';
import { serveTap } from './tap-stream.ts';

export const APP_HEALTH_PATH = '/app-health';

export interface AdminSources {
  ready(): { ready: boolean; why?: string };
  metrics(): string | Promise<string>;
  config(): unknown;
  /** Where /app-health asks the app (GET; 2xx/3xx is healthy); absent: /app-health answers 404. */
  appHealth?: { readonly host: string; readonly port: number; readonly path: string };
  /** The recent requests' fates (observe/fate-ring.ts), as JSON views: by request id, or the latest. */
  fates?: {
    byId(requestId: string): unknown[] | Promise<unknown[]>;
    recent(limit: number, failedOnly: boolean): unknown[] | Promise<unknown[]>;
  };
  /** Live taps (observe/tap-sessions.ts) for GET /tap, the proxy id their lines carry, and how often drops are told (ms; tests shorten it). */
  tap?: { readonly sessions: TapSessions; readonly proxy: string; readonly droppedEveryMs?: number };
}

/** /fates/recent answers at most this many. */
const MAX_RECENT = 2_000;

function sendJson(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, null, 2) + '\n');
}

/** Asks the app itself and answers 200 or 503 with why, so the checker learns what the app said. */
async function checkApp(target: NonNullable<AdminSources['appHealth']>): Promise<{ status: number; body: unknown }> {
  const url = `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${target.path}`;
  try {
    const res = await httpCall(url, { method: 'GET', timeoutMs: 1_000 });
    if (res.status >= 200 && res.status < 400) return { status: 200, body: { healthy: true, app: res.status } };
    return { status: 503, body: { healthy: false, why: `the app answered ${res.status} on GET ${target.path}` } };
  } catch (err) {
    return { status: 503, body: { healthy: false, why: `the app did not answer GET ${url}: ${errorMessage(err)}` } };
  }
}

export async function startAdminServer(host: string, port: number, sources: AdminSources): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const [path, search] = (req.url ?? '/').split('?', 2);
    // Every admin endpoint only reads: a write method is refused rather than answered as a read.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' });
      res.end(JSON.stringify({ error: { message: `${req.method} is not allowed on the admin listener: its endpoints only read (GET)` } }) + '\n');
      return;
    }
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
    } else if (path === APP_HEALTH_PATH && sources.appHealth) {
      void checkApp(sources.appHealth).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body) + '\n');
      });
    } else if ((path === '/fates' || path === '/fates/recent') && sources.fates) {
      const query = new URLSearchParams(search ?? '');
      if (path === '/fates') {
        const id = query.get('id');
        if (!id) return sendJson(res, 400, { error: { message: '/fates needs ?id=REQUEST-ID (or see /fates/recent)' } });
        // 404 when this sidecar holds no fate for the id: it never saw it, or it has left the rings.
        void Promise.resolve(sources.fates.byId(id)).then((items) => sendJson(res, items.length ? 200 : 404, { requestId: id, items }));
        return;
      }
      const limit = Number(query.get('limit') ?? 100);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT) return sendJson(res, 400, { error: { message: `limit must be a whole number from 1 to ${MAX_RECENT}` } });
      const failed = query.get('failed');
      void Promise.resolve(sources.fates.recent(limit, failed === 'true' || failed === '1')).then((items) => sendJson(res, 200, { items }));
    } else if (path === '/tap' && sources.tap) {
      serveTap(req, res, search ?? '', sources.tap.sessions, sources.tap.proxy, sources.tap.droppedEveryMs);
    } else if (path === '/config') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(sources.config(), null, 2) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `admin endpoints: /ready, /metrics, /config${sources.fates ? ', /fates?id=ID, /fates/recent' : ''}${sources.tap ? ', /tap' : ''}${sources.appHealth ? `, ${APP_HEALTH_PATH}` : ''}` } }) + '\n');
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
