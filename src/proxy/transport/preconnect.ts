// Pre-connect (Envoy's preconnect policy): when a snapshot is applied, open a few pooled HTTP/1.1
// connections (mutual-TLS handshakes included) to the endpoints this sidecar calls, so a fresh
// sidecar — a restart, a deploy, a scale-up — does not pay them on its first requests.
// data-plane.ts runs it at each apply; proxy.ts holds readiness for the first one, time-boxed.

import type { NodeInfo, ProxySnapshot } from '../../config/snapshot-types.ts';
import { completeTimeouts } from '../../config/kinds/backend-policy.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { MeshTls } from './mesh-tls.ts';
import type { UpstreamPool } from './upstream-pool.ts';
import { pooledIdleMs } from './h1-pool.ts';

export interface PreconnectSettings {
  /** Connections each endpoint's pool is filled to; 0 turns pre-connecting off. */
  readonly perEndpoint: number;
  /** Endpoints warmed per snapshot at most (the rest connect on demand, as without pre-connect). */
  readonly maxEndpoints: number;
  /** How long a sidecar's readiness waits for its first pre-connect at most (ms); it is ready then either way. */
  readonly timeoutMs: number;
}

/** 2 connections (a request and the one behind it), 16 endpoints, readiness held 1 s at most. */
export const DEFAULT_PRECONNECT: PreconnectSettings = { perEndpoint: 2, maxEndpoints: 16, timeoutMs: 1_000 };

export interface PreconnectTarget {
  readonly address: string;
  readonly port: number;
  /** The SPIFFE ID the endpoint's sidecar proves; undefined: plaintext. */
  readonly identity: string | undefined;
  readonly connectMs: number;
  readonly idleMs: number;
}

/**
 * The endpoints to warm, at most `max`: the HTTP/1.1 ports of the services this sidecar is set to
 * call (`--upstream`; every service but its own when it names none), passing or warning endpoints
 * only, taken one service at a time in turn so a large service does not crowd out the others.
 * `connected(address, port)`: the endpoint already has connections (a later snapshot warms only new
 * endpoints).
 */
export function preconnectTargets(snapshot: ProxySnapshot, node: NodeInfo, max: number, connected: (address: string, port: number) => boolean): PreconnectTarget[] {
  const named = node.upstreams.map((u) => {
    const [name, ns] = u.split('.');
    return { name, namespace: ns ?? node.namespace };
  });
  const lists: PreconnectTarget[][] = [];
  for (const s of snapshot.services) {
    const own = s.name === node.service && s.namespace === node.namespace;
    if (named.length > 0 ? !named.some((u) => u.name === s.name && u.namespace === s.namespace) : own) continue;
    const timeouts = completeTimeouts(s.policy.timeouts);
    const list: PreconnectTarget[] = [];
    for (const p of s.ports) {
      if (p.protocol !== 'http') continue;
      for (const e of p.endpoints) {
        if (e.health === 'critical' || connected(e.address, e.port)) continue;
        list.push({ address: e.address, port: e.port, identity: e.identity, connectMs: timeouts.connectMs, idleMs: pooledIdleMs(timeouts.idleMs, e.identity) });
      }
    }
    if (list.length > 0) lists.push(list);
  }
  const out: PreconnectTarget[] = [];
  const seen = new Set<string>();
  for (let i = 0; out.length < max; i++) {
    let any = false;
    for (const list of lists) {
      const t = list[i];
      if (t === undefined) continue;
      any = true;
      const key = `${t.address}:${t.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
      if (out.length >= max) break;
    }
    if (!any) break;
  }
  return out;
}

export interface PreconnectResult {
  /** Connections opened. */
  readonly opened: number;
  /** Endpoints whose first connection failed (unreachable, refused, wrong identity). */
  readonly failed: number;
}

/**
 * Fills each target's pool to `perEndpoint` connections, all endpoints at once. Mutual-TLS targets
 * are skipped while this sidecar has no certificate. Never rejects.
 */
export async function preconnect(pool: UpstreamPool, targets: readonly PreconnectTarget[], perEndpoint: number, tls: MeshTls | undefined): Promise<PreconnectResult> {
  if (perEndpoint <= 0) return { opened: 0, failed: 0 };
  const results = await Promise.all(
    targets.map(async (t) => {
      if (t.identity !== undefined && tls === undefined) return { opened: 0, failed: false };
      const endpointTls = t.identity === undefined ? undefined : { context: tls!.context, identity: t.identity };
      const h1 = pool.h1(t.address, t.port, t.identity);
      const opened = await h1.preconnect(perEndpoint, { connectMs: t.connectMs, idleMs: t.idleMs, tls: endpointTls });
      return { opened, failed: h1.openCount === 0 };
    }),
  );
  let opened = 0;
  let failed = 0;
  for (const r of results) {
    opened += r.opened;
    if (r.failed) failed++;
  }
  return { opened, failed };
}

/** Resolves when `work` settles or `timeoutMs` passes, whichever comes first: true if the work finished. */
export function withinTime(work: Promise<unknown>, timeoutMs: number, clock: Clock = systemClock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), timeoutMs);
    void work.then(
      () => {
        timer.cancel();
        resolve(true);
      },
      () => {
        timer.cancel();
        resolve(true);
      },
    );
  });
}
