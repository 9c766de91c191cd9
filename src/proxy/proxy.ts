// `weft proxy`: assembles a sidecar — config stream, certificate (renewed at half its life), the data
// plane (service table, outbound and inbound listeners; one per worker thread with --workers),
// registration of the local app once it accepts connections and the certificate is in hand, and the
// admin listener — and shuts it down in the order that loses no request: deregister, drain, close.

import { fateView } from './observe/fate.ts';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { NodeInfo } from '../config/snapshot-types.ts';
import type { HealthCheckSpec } from '../config/catalog-types.ts';
import { sidecarCheck, type SidecarCheckInput } from './discovery/health-check/sidecar-check.ts';
import { startLocalHealth, type LocalHealth } from './discovery/health-check/local-health.ts';
import { WEFT_VERSION } from '../config/version.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { WeftError } from '../lib/errors.ts';
import { startStreamClient } from './discovery/stream-client.ts';
import { startRegistration, type RegistrationHandle } from './discovery/registration.ts';
import { startCertificateClient } from './discovery/certificate-client.ts';
import { createControlAuth } from './discovery/control-auth.ts';
import { createControlTarget, expandControlUrls, parseControlUrls } from './discovery/control-target.ts';
import { lookup } from 'node:dns/promises';
import type { StreamClient } from './discovery/stream-client.ts';
import type { Credentials } from './transport/mesh-tls.ts';
import { startAdminServer } from './admin/admin-server.ts';
import { startDataPlane } from './data-plane.ts';
import { updatePeakEwmaScores } from './admin/balancer-metrics.ts';
import { WorkerPool } from './workers/worker-pool.ts';
import { TapSessions } from './observe/tap-sessions.ts';
import { systemClock } from '../lib/clock.ts';
import { registerProcessMetrics } from '../lib/process-metrics.ts';
import type { TcpUpstream } from './tcp/tcp-outbound.ts';
import { StatsReporter } from './observe/stats-reporter.ts';
import { DEFAULT_STATS_INTERVAL_MS } from '../config/stats-report.ts';
import { DEFAULT_PRECONNECT, withinTime, type PreconnectSettings } from './transport/preconnect.ts';
import { capYoungGeneration } from './young-generation.ts';

export interface ProxyOptions {
  /**
   * The control plane's URL, or several replicas' URLs comma-separated (`--control a,b`): the first
   * is tried first; when its stream is lost the sidecar moves to the next (see control-target.ts).
   */
  readonly controlUrl: string;
  /** An admin token (WEFT_TOKEN); gets the first certificate when there is no join token. */
  readonly token?: string;
  /** A join token for this service and namespace: gets the first certificate (`weft token create --service`). */
  readonly joinToken?: string;
  readonly service: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly upstreams?: readonly string[];
  readonly id?: string;
  /** Absent: a client-only sidecar (no inbound listener, nothing registered). */
  readonly appPort?: number;
  readonly appHost?: string;
  /** `tcp`: the app speaks TCP (a database, a cache); it registers one `tcp` port, and the inbound port pipes bytes. Default `http`. */
  readonly appProtocol?: 'http' | 'tcp';
  /** Upstream TCP service ports, each reachable on a local port (`--tcp-upstream`). */
  readonly tcpUpstreams?: readonly TcpUpstream[];
  readonly inboundPort?: number;
  readonly outboundPort?: number;
  readonly adminPort?: number;
  /** Address other sidecars use to reach the inbound listener. */
  readonly advertiseAddress?: string;
  readonly bindHost?: string;
  readonly weight?: number;
  readonly ttlSeconds?: number;
  /** HTTP path of the app this sidecar checks itself (shorthand for `healthCheck: {type: 'http', path}`); also served as admin /app-health. */
  readonly healthPath?: string;
  /** The check this sidecar runs on its own app and reports up its stream (absent, and no healthPath: TTL only). */
  readonly healthCheck?: SidecarCheckInput;
  /** Time between deregistering and closing listeners, so callers learn before we go. */
  readonly drainMs?: number;
  /** Threads carrying traffic (default 1): the main thread plus N-1 workers sharing its ports. */
  readonly workers?: number;
  /** How often the golden signals go up the stream (ms; default 5000). */
  readonly statsIntervalMs?: number;
  /** Pre-connect to the endpoints this sidecar calls when a snapshot arrives (transport/preconnect.ts); unset fields take DEFAULT_PRECONNECT's. */
  readonly preconnect?: Partial<PreconnectSettings>;
  readonly log?: Logger;
}

export interface RunningProxy {
  readonly id: string;
  readonly inboundPort: number | undefined;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** `NAME.NAMESPACE:PORT` → the local `host:port` its TCP listener bound. */
  readonly tcpUpstreams: Readonly<Record<string, string>>;
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
  // Opt-in (WEFT_V8_YOUNG_GEN=capped), before the first requests grow the heap: trades a fresh sidecar's latency for ~12 MiB.
  capYoungGeneration();
  const namespace = options.namespace ?? 'default';
  const id = options.id ?? `${options.service}-${randomBytes(3).toString('hex')}`;
  const log = options.log ?? createLogger(`proxy[${id}]`);
  const bindHost = options.bindHost ?? '127.0.0.1';
  const node: NodeInfo = {
    id,
    service: options.service,
    namespace,
    labels: { app: options.service, ...options.labels },
    // A narrowed snapshot must hold the TCP upstreams' services too (an empty list means every service).
    upstreams: options.upstreams?.length ? [...new Set([...options.upstreams, ...(options.tcpUpstreams ?? []).map((u) => (u.namespace ? `${u.service}.${u.namespace}` : u.service))])] : [],
    weftVersion: WEFT_VERSION,
  };
  // Checked before anything starts: a bad flag must not leave half a sidecar running.
  if (options.healthCheck && options.appPort === undefined) throw new WeftError('WEFT_ERR_PROXY_BAD_HEALTH_CHECK', 'a health check needs the app\'s port (--app-port, or --port with weft run): a sidecar checks its own app', 400);
  const appCheck: HealthCheckSpec | undefined = options.appPort === undefined
    ? undefined
    : sidecarCheck(options.healthCheck || options.healthPath ? { ...(options.healthPath ? { path: options.healthPath } : {}), ...options.healthCheck } : undefined, { host: options.appHost ?? '127.0.0.1', port: options.appPort });
  let controlUrls: string[];
  try {
    controlUrls = parseControlUrls(options.controlUrl);
  } catch (err) {
    throw new WeftError('WEFT_ERR_PROXY_BAD_CONTROL', (err as Error).message, 400);
  }
  // A name for the replicas that resolves to several addresses stands for all of them.
  controlUrls = await expandControlUrls(controlUrls, (host) => lookup(host, { all: true }));
  if (controlUrls.length > 1) log.info('control-plane replicas', { urls: controlUrls.join(',') });
  // One target for every client: they all follow the replica the config stream is on.
  const control = createControlTarget({ urls: controlUrls });
  const controlUrl = controlUrls[0];
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a whole number of at least 1, got ${workers}`);
  const statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
  if (!Number.isInteger(statsIntervalMs) || statsIntervalMs < 100) throw new Error(`statsIntervalMs must be a whole number of at least 100, got ${statsIntervalMs}`);
  const preconnect: PreconnectSettings = { ...DEFAULT_PRECONNECT, ...options.preconnect };
  for (const [name, v] of Object.entries(preconnect)) if (!Number.isInteger(v) || v < 0) throw new Error(`preconnect.${name} must be a whole number of at least 0, got ${v}`);
  const planeOptions = {
    node,
    preconnect,
    // One set of session-ticket keys for every thread: a caller's ticket resumes on any of them.
    ticketKeys: randomBytes(48),
    proxyId: id,
    bindHost,
    outboundPort: options.outboundPort ?? 15001,
    inboundPort: options.appPort === undefined ? undefined : options.inboundPort ?? 15006,
    appHost: options.appHost ?? '127.0.0.1',
    appPort: options.appPort,
    appProtocol: options.appProtocol ?? 'http',
    tcpUpstreams: options.tcpUpstreams ?? [],
    reusePort: workers > 1,
  };
  const plane = await startDataPlane({ ...planeOptions, worker: 0 });
  const metrics = plane.metrics;
  const tcpUpstreams = Object.fromEntries(plane.tcpUpstreams.map((l) => [`${l.upstream.service}.${l.upstream.namespace ?? namespace}:${l.upstream.port}`, `${l.host}:${l.port}`]));
  // On the main thread's registry only: the workers share the process, and their registries are summed in.
  const updateProcessMetrics = registerProcessMetrics(metrics.registry);
  // The workers take the ports the main thread got (which matters when asked for port 0).
  const pool = workers > 1
    ? await WorkerPool.start(workers - 1, { ...planeOptions, outboundPort: plane.outboundPort, inboundPort: plane.inboundPort, tcpUpstreams: plane.tcpUpstreams.map((l) => ({ ...l.upstream, localPort: l.port })) }, log.child('workers')).catch((err) => {
        plane.destroy();
        throw err;
      })
    : undefined;
  // Taps (admin GET /tap) see the main thread's requests and, relayed, every worker's.
  const taps = new TapSessions({ hub: plane.observer.taps, relay: pool, clock: systemClock, metrics: { events: metrics.tapEvents, active: metrics.tapsActive } });
  if (pool) pool.tapSink = taps;

  // The first certificate comes with the join token; the stream and every later call are made with
  // a proof of that certificate's key, so the stream starts once it is in hand.
  let firstCredentials: (c: Credentials) => void = () => {};
  const credentialsReady = new Promise<Credentials>((resolve) => (firstCredentials = resolve));
  const auth = createControlAuth({ joinToken: options.joinToken, token: options.token, credentials: () => certificates.current() });
  const certificates = startCertificateClient({
    controlUrl,
    control,
    auth,
    node,
    log: log.child('identity'),
    onCredentials: (credentials) => {
      plane.setCredentials(credentials);
      pool?.setCredentials(credentials);
      metrics.certificateExpiry.set({}, Math.round(credentials.notAfter / 1000));
      firstCredentials(credentials);
    },
  });

  let stream: StreamClient | undefined;
  let warmStarted = false;
  let warmed = false;
  let localHealth: LocalHealth | undefined;
  let closedEarly = false;
  // The hello names the admin listener (Prometheus service discovery), so the stream waits for it.
  let adminListening: (port: number) => void = () => {};
  const adminReady = new Promise<number>((resolve) => (adminListening = resolve));
  const adminHost = options.advertiseAddress ?? (bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost);
  void Promise.all([credentialsReady, adminReady]).then(([, port]) => {
    if (closedEarly) return;
    stream = startStreamClient({
      controlUrl,
      control,
      auth,
      node: { ...node, adminAddress: `${adminHost.includes(':') ? `[${adminHost}]` : adminHost}:${port}` },
      log: log.child('stream'),
      accept: (snapshot) => {
        plane.apply(snapshot);
        pool?.apply(snapshot);
        // Ready once the first snapshot's connections are open, or the time box is over (an unreachable endpoint must not hold it).
        if (!warmStarted) {
          warmStarted = true;
          void withinTime(plane.warming(), preconnect.timeoutMs).then(() => (warmed = true));
        }
      },
      onUpdate: (result) => metrics.configUpdates.inc({ result }),
      // A control plane back from a restart may hold a new CA: then every certificate must be renewed.
      onReconnect: () => void certificates.checkTrust(),
      // The control plane may have lost or never heard the app's state (a restart, a report sent while the stream was down).
      onConnect: () => localHealth?.resend(),
      // Refused as a credential (a control plane with a new CA): renew with the join token, if it still holds.
      onUnauthorized: () => certificates.renewNow(),
      // A root rotation: trust the new root as soon as it is announced, renew under it when it issues.
      onTrust: (trust) => certificates.trustChanged(trust),
    });
  });
  // Golden signals: what the request counters gained since the last report, up the stream.
  const reporter = new StatsReporter(`${node.service}.${node.namespace}`, Date.now());
  let reporting = false;
  const statsTimer = setInterval(() => {
    if (reporting || !stream?.connected()) return;
    reporting = true;
    const own = { [metrics.requests.name]: metrics.requests.dump(), [metrics.duration.name]: metrics.duration.dump() };
    void (pool ? pool.metrics() : Promise.resolve([]))
      .then((others) => {
        const pending = reporter.next([own, ...others], Date.now());
        if (pending && stream?.send({ type: 'stats', ...pending.report })) pending.commit();
      })
      .catch((err) => log.debug('could not gather stats', { err: String(err) }))
      .finally(() => (reporting = false));
  }, statsIntervalMs);
  statsTimer.unref();
  const closeStream = (): void => {
    closedEarly = true;
    clearInterval(statsTimer);
    stream?.close();
  };

  let registration: RegistrationHandle | undefined;
  let stopping = false;
  let adminPort = 0;
  const inboundPort = plane.inboundPort;
  const appHost = options.appHost ?? '127.0.0.1';
  const admin = await startAdminServer(bindHost, options.adminPort ?? 15000, {
    ready: () => {
      if (!certificates.current()) return { ready: false, why: `no certificate yet${certificates.lastError() ? ` (${certificates.lastError()})` : ''}` };
      if (!stream?.snapshot.get()) return { ready: false, why: `no configuration from the control plane yet${stream?.lastError() ? ` (${stream.lastError()})` : ''}` };
      if (!warmed) return { ready: false, why: `opening connections to the endpoints it calls (pre-connect, at most ${preconnect.timeoutMs} ms)` };
      if (stopping) return { ready: false, why: 'draining' };
      return { ready: true };
    },
    metrics: async () => {
      metrics.controlConnected.set({}, stream?.connected() ? 1 : 0);
      // The main thread's balancers only: each worker balances its own connections, and scores do not add up.
      updatePeakEwmaScores(metrics.peakEwmaScore, plane.serviceTable());
      updateProcessMetrics();
      return metrics.registry.render(pool ? await pool.metrics() : []);
    },
    config: () => {
      const credentials = certificates.current();
      return {
        node,
        controlPlane: { url: control.current(), ...(controlUrls.length > 1 && { urls: controlUrls }), connected: stream?.connected() ?? false, lastError: stream?.lastError() },
        registered: registration?.registered() ?? false,
        // The checks this sidecar runs on its app, as last reported (absent: none configured).
        ...(appCheck ? { appHealth: { status: localHealth?.status() ?? 'pending', check: appCheck, checks: localHealth?.report() ?? [] } } : {}),
        listeners: { outbound: plane.outboundPort, inbound: plane.inboundPort, admin: adminPort, tcpUpstreams },
        appProtocol: planeOptions.appProtocol,
        workers,
        identity: credentials
          ? { id: credentials.identity, serial: credentials.serial, notBefore: new Date(credentials.notBefore).toISOString(), notAfter: new Date(credentials.notAfter).toISOString(), lastError: certificates.lastError() }
          : { lastError: certificates.lastError() },
        version: stream?.snapshot.get()?.version,
        // The main thread's balancers (each worker thread keeps its own): ejections, slow start, counters.
        endpointStats: plane.endpointStats(),
        snapshot: stream?.snapshot.get(),
      };
    },
    appHealth: options.appPort !== undefined && options.healthPath ? { host: appHost, port: options.appPort, path: options.healthPath } : undefined,
    // The main thread's data plane, and with --workers each worker thread's.
    fates: {
      byId: async (requestId) => {
        const own = plane.observer.fates.find(requestId).map((f) => fateView(f, id));
        const workers = pool ? await pool.fates({ requestId }) : [];
        return [...own, ...workers].sort((a, b) => a.time.localeCompare(b.time));
      },
      recent: async (limit, failedOnly) => {
        const own = (failedOnly ? plane.observer.fates.failedRing : plane.observer.fates.recentRing).recent(limit).map((f) => fateView(f, id));
        if (!pool) return own;
        return [...own, ...(await pool.fates({ limit, failedOnly }))].sort((a, b) => b.time.localeCompare(a.time)).slice(0, limit);
      },
    },
    tap: { sessions: taps, proxy: id },
  }).catch((err) => {
    certificates.stop();
    closeStream();
    plane.destroy();
    pool?.destroy();
    throw err;
  });
  adminPort = admin.port;
  adminListening(admin.port);

  if (inboundPort !== undefined && options.appPort !== undefined) {
    // This sidecar checks its app itself, straight on the app's port (the inbound one may take only
    // mutual TLS), and reports up its stream: the control plane does not probe it.
    const checks: HealthCheckSpec[] = appCheck ? [appCheck] : [];
    // Register only once the app accepts connections (no caller is sent to an app still starting)
    // and the certificate is in hand (callers find an identity they can check).
    void Promise.all([waitForPort(appHost, options.appPort, () => stopping), credentialsReady]).then(([, credentials]) => {
      if (stopping) return;
      if (appCheck) {
        localHealth = startLocalHealth({
          checks: [appCheck],
          send: (reported) => stream?.send({ type: 'health', checks: reported }) ?? false,
          log: log.child('health'),
          metrics: { results: metrics.healthChecks, state: metrics.appHealthState },
        });
      }
      registration = startRegistration({
        controlUrl,
        control,
        auth,
        log: log.child('registration'),
        appAlive: () => portAccepts(appHost, options.appPort!),
        // Each registration restarts the catalog's view of the checks: tell it what this sidecar knows.
        onRegistered: () => localHealth?.resend(),
        registration: {
          service: options.service,
          namespace,
          id,
          address: options.advertiseAddress ?? (bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost),
          // A TCP app is one `tcp` port, numbered as the app's own port (a Service maps it to any number it declares).
          ports: [planeOptions.appProtocol === 'tcp' ? { port: options.appPort!, targetPort: inboundPort, name: 'tcp', protocol: 'tcp' } : { port: 80, targetPort: inboundPort, name: 'http', protocol: 'http' }],
          labels: node.labels,
          weight: options.weight ?? 1,
          ttlSeconds: options.ttlSeconds ?? 15,
          checks,
          identity: credentials.identity,
        },
      });
    });
  }

  log.info('proxy started', { outbound: plane.outboundPort, inbound: plane.inboundPort, admin: admin.port, workers, control: options.controlUrl, ...(plane.tcpUpstreams.length > 0 && { tcpUpstreams }) });

  return {
    id,
    inboundPort: plane.inboundPort,
    outboundPort: plane.outboundPort,
    adminPort: admin.port,
    tcpUpstreams,
    async stop() {
      if (stopping) return;
      stopping = true;
      localHealth?.stop();
      if (registration) {
        await registration.deregister();
        await new Promise((r) => setTimeout(r, options.drainMs ?? 1_500));
      }
      closeStream();
      certificates.stop();
      // Give open requests up to 2 s to finish; the timer must not keep the process alive.
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([plane.close(), pool?.close()]), new Promise((r) => (graceTimer = setTimeout(r, 2_000)))]);
      clearTimeout(graceTimer);
      plane.destroy();
      pool?.destroy();
      await admin.close();
      log.info('proxy stopped');
    },
  };
}
