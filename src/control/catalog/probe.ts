// One active health check against an instance: an HTTP GET that must answer 2xx/3xx, or a TCP
// connect that must open, within the check's timeout. Returns why it failed, for `healthReason`.

import { http } from '../../lib/node-http.ts';
import net from 'node:net';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export function probe(check: HealthCheckSpec, host: string, port: number): Promise<ProbeResult> {
  return check.type === 'http' ? probeHttp(check, host, port) : probeTcp(check, host, port);
}

function probeHttp(check: HealthCheckSpec, host: string, port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: check.path ?? '/', agent: false, timeout: check.timeoutSeconds * 1000, headers: { 'user-agent': 'weft-health-check' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? { ok: true } : { ok: false, reason: `http check ${check.path} answered ${status}` });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${check.timeoutSeconds}s`)));
    req.on('error', (err) => resolve({ ok: false, reason: `http check ${check.path} failed: ${err.message}` }));
  });
}

function probeTcp(check: HealthCheckSpec, host: string, port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(check.timeoutSeconds * 1000, () => socket.destroy(new Error(`timed out after ${check.timeoutSeconds}s`)));
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once('error', (err) => resolve({ ok: false, reason: `tcp check ${host}:${port} failed: ${err.message}` }));
  });
}
