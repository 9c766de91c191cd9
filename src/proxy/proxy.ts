// `weft proxy`: assembles a sidecar — config stream, service table, outbound and inbound listeners,
// registration of the local app once it accepts connections, and the admin listener — and shuts
// it down in the order that loses no request: deregister, drain, close.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { NodeInfo } from '../config/snapshot-types.ts';
import type { HealthCheckSpec } from '../config/catalog-types.ts';
import { WEFT_VERSION } from '../config/version.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createWatch } from '../lib/watch.ts';
import { ServiceTable } from './balance/service-table.ts';
import { startStreamClient } from './discovery/stream-client.ts';
import { startRegistration, type RegistrationHandle } from './discovery/registration.ts';
import { UpstreamPool } from './transport/upstream-pool.ts';
import { startOutboundListener } from './outbound/outbound-listener.ts';
import { startInboundListener } from './inbound/inbound-listener.ts';
import { startAdminServer } from './admin/admin-server.ts';
import { createProxyMetrics } from './admin/proxy-metrics.ts';
import type { Listener } from './transport/listener.ts';

export interface ProxyOptions {
  readonly controlUrl: string;
  readonly token?: string;
  readonly service: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly upstreams?: readonly string[];
  readonly id?: string;
  /** Absent: a client-only sidecar (no inbound listener, nothing registered). */
  readonly appPort?: number;
  readonly appHost?: string;
  readonly inboundPort?: number;
  readonly outboundPort?: number;
  readonly adminPort?: number;
  /** Address other sidecars use to reach the inbound listener. */
  readonly advertiseAddress?: string;
  readonly bindHost?: string;
  readonly weight?: number;
  readonly ttlSeconds?: number;
  /** HTTP path the control plane checks through the inbound listener (absent: TTL only). */
  readonly healthPath?: string;
  /** Time between deregistering and closing listeners, so callers learn before we go. */
  readonly drainMs?: number;
  readonly log?: Logger;
}

export interface RunningProxy {
  readonly id: string;
  readonly inboundPort: number | undefined;
  readonly outboundPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

function portAccepts(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(host: string, port: number, stopped: () => boolean): Promise<void> {
  while (!stopped() && !(await portAccepts(host, port))) await new Promise((r) => setTimeout(r, 200));
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const namespace = options.namespace ?? 'default';
  const id = options.id ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const log = options.log ?? createLogger(`proxy[${id}]`);
  const bindHost = options.bindHost ?? '127.0.0.1';
  const metrics = createProxyMetrics();
  const pool = new UpstreamPool();
  const inboundPool = new UpstreamPool();
  const node: NodeInfo = {
    id,
    service: options.service,
    namespace,
    labels: { app: options.service, ...options.labels },
    upstreams: options.upstreams ?? [],
    weftVersion: WEFT_VERSION,
  };

  const table = createWatch<ServiceTable | undefined>(undefined);
  const serviceTable = new ServiceTable();
  let allowPassthrough = true;
  const stream = startStreamClient({
    controlUrl: options.controlUrl,
    token: options.token,
    node,
    log: log.child('stream'),
    accept: (snapshot) => {
      serviceTable.update(snapshot);
      allowPassthrough = snapshot.outboundTrafficPolicy !== 'REGISTRY_ONLY';
      pool.retain(serviceTable.endpointKeys());
      table.set(serviceTable);
    },
    onUpdate: (result) => metrics.configUpdates.inc({ result }),
  });

  let outboundPort = 0;
  const outbound = await startOutboundListener(bindHost, options.outboundPort ?? 15001, { node, proxyId: id, table, pool, metrics, allowPassthrough: () => allowPassthrough, ownPort: () => outboundPort });
  outboundPort = outbound.port;
  let inbound: Listener | undefined;
  if (options.appPort !== undefined) {
    inbound = await startInboundListener(bindHost, options.inboundPort ?? 15006, { node, proxyId: id, appHost: options.appHost ?? '127.0.0.1', appPort: options.appPort, pool: inboundPool, metrics });
  }

  let registration: RegistrationHandle | undefined;
  let stopping = false;
  if (inbound && options.appPort !== undefined) {
    const inboundPort = inbound.port;
    const checks: HealthCheckSpec[] = options.healthPath
      ? [{ type: 'http', path: options.healthPath, port: inboundPort, intervalSeconds: 2, timeoutSeconds: 1, unhealthyThreshold: 1, healthyThreshold: 1 }]
      : [];
    // Register only once the app accepts connections: no caller is sent to an app still starting.
    void waitForPort(options.appHost ?? '127.0.0.1', options.appPort, () => stopping).then(() => {
      if (stopping) return;
      registration = startRegistration({
        controlUrl: options.controlUrl,
        token: options.token,
        log: log.child('registration'),
        appAlive: () => portAccepts(options.appHost ?? '127.0.0.1', options.appPort!),
        registration: {
          service: options.service,
          namespace,
          id,
          address: options.advertiseAddress ?? (bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost),
          ports: [{ port: 80, targetPort: inboundPort, name: 'http', protocol: 'http' }],
          labels: node.labels,
          weight: options.weight ?? 1,
          ttlSeconds: options.ttlSeconds ?? 15,
          checks,
        },
      });
    });
  }

  let adminPort = 0;
  const admin = await startAdminServer(bindHost, options.adminPort ?? 15000, {
    ready: () => {
      if (!stream.snapshot.get()) return { ready: false, why: `no configuration from the control plane yet${stream.lastError() ? ` (${stream.lastError()})` : ''}` };
      if (stopping) return { ready: false, why: 'draining' };
      return { ready: true };
    },
    metrics: () => {
      metrics.controlConnected.set({}, stream.connected() ? 1 : 0);
      return metrics.registry.render();
    },
    config: () => ({
      node,
      controlPlane: { url: options.controlUrl, connected: stream.connected(), lastError: stream.lastError() },
      registered: registration?.registered() ?? false,
      listeners: { outbound: outbound.port, inbound: inbound?.port, admin: adminPort },
      version: stream.snapshot.get()?.version,
      snapshot: stream.snapshot.get(),
    }),
  });
  adminPort = admin.port;
  log.info('proxy started', { outbound: outbound.port, inbound: inbound?.port, admin: admin.port, control: options.controlUrl });

  return {
    id,
    inboundPort: inbound?.port,
    outboundPort: outbound.port,
    adminPort: admin.port,
    async stop() {
      if (stopping) return;
      stopping = true;
      if (registration) {
        await registration.deregister();
        await new Promise((r) => setTimeout(r, options.drainMs ?? 1_500));
      }
      stream.close();
      // Give open requests up to 2 s to finish; the timer must not keep the process alive.
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([outbound.close(), inbound?.close()]), new Promise((r) => (graceTimer = setTimeout(r, 2_000)))]);
      clearTimeout(graceTimer);
      outbound.destroy();
      inbound?.destroy();
      pool.close();
      inboundPool.close();
      await admin.close();
      log.info('proxy stopped');
    },
  };
}
