// `weft control`: assembles the store, certificate authority, catalog, snapshot cache, proxy streams
// and the HTTP API into one server, and tears them down in order on close. On etcd, several of these
// run side by side as replicas: they share the CA root, and a leader (elected on an etcd lease) runs
// the work that must run once (see docs/operations/replicas.md).

import { http } from '../lib/node-http.ts';
import type { AddressInfo } from 'node:net';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../lib/clock.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { WeftError } from '../lib/errors.ts';
import { Registry } from '../lib/metrics.ts';
import { registerProcessMetrics } from '../lib/process-metrics.ts';
import { WEFT_VERSION } from '../config/version.ts';
import { openStore } from './store/open-store.ts';
import { parseStoreUrl } from './store/store-url.ts';
import type { Store } from './store/store.ts';
import { Catalog } from './catalog/catalog.ts';
import { SnapshotCache } from './snapshot/cache.ts';
import { ProxyRegistry } from './stream/proxy-registry.ts';
import { createRoutes } from './api/routes.ts';
import { StatsWindow, type StatsWindowOptions } from './stats/stats-window.ts';
import { sendError } from './api/http-util.ts';
import { CertificateAuthority, checkCaSettings } from './ca/certificate-authority.ts';
import { TokenStore } from './auth/tokens.ts';
import { ProofVerifier } from './auth/proof.ts';
import { authenticate, authorizeRoute, setCaller } from './auth/caller.ts';
import { checkDnsSettings, startDnsServer, type DnsServer } from './dns/dns-server.ts';
import { openDnsSource } from './dns/service-source.ts';
import { startConsulServer, type ConsulServer } from './consul/server.ts';
import { loadKubeConfig, startKubernetesSource, type KubernetesSource } from './sources/kubernetes/kubernetes-source.ts';
import { createDashboardHandler } from '../dashboard/serve.ts';
import { useSharedRoot } from './ca/shared-root.ts';
import type { Campaign } from './store/store.ts';
import { startProxyDirectory, type ProxyDirectory } from './stream/proxy-directory.ts';
import { proxyRows } from './stream/proxy-rows.ts';

/** Where the first start writes a generated admin token (mode 0600) when no --token is given. */
export const ADMIN_TOKEN_FILE = 'admin-token';

export interface ControlPlaneOptions {
  readonly host?: string;
  readonly port?: number;
  readonly dataDir: string;
  /**
   * The bootstrap admin token (`--token`): always accepted as an admin credential. Without it (and
   * without `insecure`) the first start writes a generated admin token to `<dataDir>/admin-token`.
   */
  readonly token?: string;
  /** Accept anonymous callers on every route, as if they were admins (demos and tests of insecure mode only). */
  readonly insecure?: boolean;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** The golden-signal window's resolution and retention (default 5 s and 10 min). */
  readonly stats?: Pick<StatsWindowOptions, 'resolutionMs' | 'retentionMs'>;
  readonly store?: Store;
  /** Where state lives (`--store`): `sqlite` (default, in dataDir) or `etcd://HOST:PORT[,…][/PREFIX]`. */
  readonly storeUrl?: string;
  /** etcd: how long to retry an unreachable cluster at start before failing (ms, default 60 000). */
  readonly storeConnectTimeoutMs?: number;
  /** SPIFFE trust domain of the identities the CA issues (default `weft.local`). */
  readonly trustDomain?: string;
  /** Lifetime of issued workload certificates, 5 s to 30 days (default 24 h; below 10 minutes is for tests). */
  readonly certificateTtlSeconds?: number;
  /** The operator's CA (`--ca-cert`, `--ca-key`): signing CA first, then intermediates, then the root. Both or neither. */
  readonly caCertFile?: string;
  readonly caKeyFile?: string;
  /** Serve DNS (UDP and TCP) on this IP address and port (`--dns-listen`; port 0 picks one); off when absent. */
  readonly dnsListen?: { readonly host: string; readonly port: number };
  /** TTL of DNS answers and negative caching, 0–3600 s (`--dns-ttl`, default 5). */
  readonly dnsTtlSeconds?: number;
  /** `--consul-listen`: serve the Consul-compatible catalog API on this host and port (port 0: any free one). */
  readonly consulListen?: { readonly host: string; readonly port: number };
  /** Mirror Services and EndpointSlices (and Gateway API routes) from a Kubernetes cluster (`--kubernetes`). */
  readonly kubernetes?: { readonly kubeconfig?: string; readonly namespaces?: readonly string[] };
  /**
   * Replicas on etcd: the TTL (seconds) of the lease the leader holds (`--leader-lease`, default
   * 10). When the leader dies, another replica takes over the once-only work within about this long.
   */
  readonly leaderLeaseSeconds?: number;
}

/** Default TTL of the leader's lease (s): failover of the once-only work within about this long. */
export const DEFAULT_LEADER_LEASE_SECONDS = 10;

export interface ControlPlane {
  readonly url: string;
  readonly port: number;
  /** The Consul-compatible API's URL, when `consulListen` was given. */
  readonly consulUrl?: string;
  /** The file a generated bootstrap admin token was written to on this start, if one was. */
  readonly adminTokenFile?: string;
  /** The DNS port (UDP and TCP) when `dnsListen` was given. */
  readonly dnsPort?: number;
  close(): Promise<void>;
}

/** Writes the token readable by the owner only; refuses to overwrite a file already there. */
async function writeSecretFile(path: string, text: string): Promise<void> {
  const fh = await openFile(path, 'wx', 0o600);
  try {
    await fh.writeFile(text + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger('control');
  // Bad settings fail here, before the store is opened or a port is taken.
  const caSettings = checkCaSettings({ trustDomain: options.trustDomain, leafTtlSeconds: options.certificateTtlSeconds });
  if ((options.caCertFile === undefined) !== (options.caKeyFile === undefined)) {
    throw new WeftError('WEFT_ERR_CA_CONFIG', 'an operator CA needs both the certificate (--ca-cert) and its key (--ca-key)', 400);
  }
  if (options.dnsListen) checkDnsSettings({ host: options.dnsListen.host, ttlSeconds: options.dnsTtlSeconds });
  // A kubeconfig that cannot be read fails the start, before anything is opened.
  if (options.kubernetes) loadKubeConfig(options.kubernetes.kubeconfig);
  const operator = options.caCertFile !== undefined && options.caKeyFile !== undefined ? { certFile: options.caCertFile, keyFile: options.caKeyFile } : undefined;
  const location = parseStoreUrl(options.storeUrl ?? 'sqlite');
  const store =
    options.store ?? (await openStore({ location, dataDir: options.dataDir, connectTimeoutMs: options.storeConnectTimeoutMs, log }));
  let ca: CertificateAuthority;
  const sharedRoot = store.cluster !== undefined && operator === undefined;
  try {
    if (sharedRoot) {
      // Replicas sign under one root: the first one's, kept in the store (see shared-root.ts).
      await useSharedRoot({
        dataDir: options.dataDir,
        cluster: store.cluster!,
        log: log.child('ca'),
        generate: async () => (await CertificateAuthority.open({ dataDir: options.dataDir, ...caSettings, clock, log: log.child('ca') })).close(),
      });
    }
    ca = await CertificateAuthority.open({ dataDir: options.dataDir, ...caSettings, operator, sharedRoot, clock, log: log.child('ca') });
  } catch (err) {
    if (!options.store) await store.close();
    throw err;
  }
  let tokens: TokenStore;
  let adminTokenFile: string | undefined;
  try {
    tokens = await TokenStore.open(store);
    if (!options.insecure && options.token === undefined && !tokens.hasAdmin()) {
      // Secure by default: the first start makes an admin credential only its operator can read.
      const { token, stored } = await tokens.create({ kind: 'admin', role: 'admin', description: 'bootstrap' }, clock.now());
      adminTokenFile = join(options.dataDir, ADMIN_TOKEN_FILE);
      try {
        await writeSecretFile(adminTokenFile, token);
      } catch (err) {
        await tokens.revoke(stored.id);
        throw new WeftError('WEFT_ERR_AUTH_BOOTSTRAP', `cannot write the bootstrap admin token to ${adminTokenFile}: ${(err as Error).message}`, 500);
      }
      log.info('wrote a bootstrap admin token', { path: adminTokenFile, id: stored.id });
    }
  } catch (err) {
    if (!options.store) await store.close();
    throw err;
  }
  const proofs = new ProofVerifier({ trustDomain: ca.trustDomain, trustBundle: () => ca.trustBundle(), now: () => clock.now() });
  const auth = { insecure: options.insecure === true, bootstrapToken: options.token, tokens, proofs, now: () => clock.now() };
  if (options.insecure) log.warn('running with --insecure: anyone who reaches the API can read and change the mesh and obtain any identity');
  // On etcd, a replica follows until elected (the campaign starts once the API listens).
  const catalog = new Catalog({ store, clock, log: log.child('catalog'), leader: store.cluster === undefined });
  // Replicas on etcd share proxy-id bindings, each on a lease as long as a certificate lives (a
  // minute more for clock skew), so a proxy id taken on one replica is taken on all.
  const bindingTtlSeconds = ca.leafTtlSeconds + 60;
  const proxies = new ProxyRegistry(undefined, store.putBinding ? (proxyId, binding) => {
    store.putBinding!(proxyId, binding, bindingTtlSeconds).catch((err: unknown) => log.warn('could not share a proxy-id binding', { proxy: proxyId, err }));
  } : undefined);
  for (const { proxyId, binding } of (await store.listBindings?.()) ?? []) proxies.adoptBinding(proxyId, { identity: binding.identity, keys: [...binding.keys] });
  const cache = new SnapshotCache({
    clock,
    log: log.child('snapshot'),
    load: async () => ({ resources: await store.listResources(), instances: catalog.list(), trustDomain: ca.trustDomain }),
    // After the load's reads: the etcd revision they saw, so replicas give one state the same version.
    revision: store.revision ? () => store.revision!() : undefined,
  });
  await catalog.start();
  const unwatchStore = store.watch((event) => {
    if (event.type === 'binding-put') proxies.adoptBinding(event.proxyId, { identity: event.binding.identity, keys: [...event.binding.keys] });
    else if (event.type === 'binding-delete') proxies.forgetBinding(event.proxyId);
    if (event.type === 'resource-put' || event.type === 'resource-delete' || event.type === 'resync') cache.changed();
  });
  const unwatchCatalog = catalog.subscribe(() => cache.changed());

  const metrics = new Registry();
  const apiRequests = metrics.counter('weft_control_api_requests_total', 'API requests by method and status code.', ['method', 'code']);
  const proxiesGauge = metrics.gauge('weft_control_proxies_connected', 'Proxies with an open stream.');
  const instancesGauge = metrics.gauge('weft_control_instances', 'Registered instances by health.', ['health']);
  const updateProcessMetrics = registerProcessMetrics(metrics);
  const leaderGauge = metrics.gauge('weft_control_leader', 'Whether this control-plane replica is the leader that runs the once-only work (1) or not (0); always 1 on SQLite.');
  leaderGauge.set({}, catalog.isLeader() ? 1 : 0);
  let campaign: Campaign | undefined;
  let directory: ProxyDirectory | undefined;
  let replicaUrl = '';
  // The Kubernetes source writes the mirrored instances: the leader's work only.
  let kubernetes: KubernetesSource | undefined;
  let kubernetesStarts = 0;
  const startKubernetes = (): void => {
    if (!options.kubernetes || kubernetes) return;
    // Metrics are registered by the first start only (a re-elected replica keeps counting on them).
    kubernetes = startKubernetesSource({ ...options.kubernetes, catalog, store, log: log.child('kubernetes'), trustDomain: ca.trustDomain, metrics: kubernetesStarts++ === 0 ? metrics : undefined });
  };
  const stopKubernetes = async (): Promise<void> => {
    const k = kubernetes;
    kubernetes = undefined;
    await k?.stop();
  };
  if (catalog.isLeader()) startKubernetes();
  const certificatesIssued = metrics.counter('weft_control_certificates_issued_total', 'Workload certificates issued by the CA.').bind();

  // Before the API listens, so a taken DNS port fails the start like a taken API port does.
  const dnsSource = options.dnsListen ? await openDnsSource(store, catalog) : undefined;
  const dns: DnsServer | undefined = options.dnsListen && dnsSource ? await startDnsServer({ ...options.dnsListen, ttlSeconds: options.dnsTtlSeconds, source: dnsSource, metrics, log: log.child('dns') }) : undefined;

  // Also before the API listens: a taken Consul port fails the start (WEFT_ERR_CONSUL_LISTEN).
  let consul: ConsulServer | undefined;
  if (options.consulListen) {
    try {
      consul = await startConsulServer({ ...options.consulListen, catalog, clock, log: log.child('consul'), metrics, authenticate: (authorization, method, target) => authenticate(auth, authorization, method, target) });
    } catch (err) {
      await dns?.close();
      dnsSource?.close();
      unwatchStore();
      unwatchCatalog();
      cache.stop();
      catalog.stop();
      await ca.close();
      if (!options.store) await store.close();
      throw err;
    }
  }
  const stats = new StatsWindow({ clock, ...options.stats });
  const statsReports = metrics.counter('weft_control_stats_reports_total', 'Golden-signal reports received from sidecars, by result (accepted|rejected: invalid, dropped).', ['result']);

  const routes = createRoutes({
    store,
    catalog,
    cache,
    proxies,
    clock,
    log,
    version: WEFT_VERSION,
    startedAt: clock.now(),
    storeName: location.backend,
    ca,
    tokens,
    onCertificateIssued: () => certificatesIssued.inc(),
    stats,
    onStatsReport: (result) => statsReports.inc({ result }),
    replicaUrl: () => (campaign ? replicaUrl : undefined),
    otherProxies: store.cluster ? async () => (directory ? directory.others() : []) : undefined,
    replication: () =>
      campaign === undefined ? { leader: catalog.isLeader() } : { leader: campaign.isLeader(), leaderUrl: campaign.leader() },
  });

  const dashboard = createDashboardHandler(log.child('dashboard'));

  const server = http.createServer(async (req, res) => {
    res.on('finish', () => apiRequests.inc({ method: req.method ?? '', code: String(res.statusCode) }));
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      if (url.pathname === '/metrics' && req.method === 'GET') {
        proxiesGauge.set({}, proxies.connectedCount());
        for (const h of ['passing', 'warning', 'critical']) instancesGauge.set({ health: h }, catalog.list().filter((i) => i.health === h).length);
        updateProcessMetrics();
        consul?.updateMetrics();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
        return;
      }
      const method = req.method ?? 'GET';
      // The web UI's assets are public (they hold no data); its API calls carry the user's token.
      if (dashboard.owns(url.pathname)) {
        await dashboard.handle(req, res, url.pathname);
        return;
      }
      if (!(url.pathname === '/v1/health' && method === 'GET')) {
        // Everyone is authenticated before routing, so that an unknown path tells nobody anything.
        const caller = await authenticate(auth, req.headers.authorization, method, req.url ?? '/');
        authorizeRoute(caller, method, url.pathname);
        setCaller(req, caller);
      }
      const match = routes.match(method, url.pathname);
      if (match === 'method') throw new WeftError('WEFT_ERR_API_METHOD', `${req.method} is not allowed on ${url.pathname}`, 405);
      if (!match) throw new WeftError('WEFT_ERR_API_NOT_FOUND', `no API route ${url.pathname}`, 404);
      await match.handler(req, res, match.params, url);
    } catch (err) {
      sendError(res, err, log);
    }
  });
  server.keepAliveTimeout = 65_000;
  // Streams are long-lived: no request timeout for them, the ping keeps them honest.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7700, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info('control plane listening', { url, dataDir: options.dataDir, store: location.backend, auth: options.insecure ? 'insecure' : 'tokens' });
  if (store.cluster) {
    replicaUrl = url;
    const leaseSeconds = options.leaderLeaseSeconds ?? DEFAULT_LEADER_LEASE_SECONDS;
    // Every replica's `weft status` lists this one's proxies too.
    directory = startProxyDirectory({ cluster: store.cluster, replica: url, rows: () => proxyRows(proxies, cache, clock.now(), url), ttlSeconds: leaseSeconds, clock, log: log.child('replicas') });
    // Campaign with the API's URL, so `weft status` and /v1/health can name the leader.
    campaign = store.cluster.campaign(url, leaseSeconds, (leader) => {
      catalog.setLeader(leader);
      leaderGauge.set({}, leader ? 1 : 0);
      if (leader) startKubernetes();
      else void stopKubernetes().catch((err: unknown) => log.warn('could not stop the Kubernetes source', { err }));
    });
  }

  return {
    url,
    port,
    adminTokenFile,
    dnsPort: dns?.port,
    consulUrl: consul?.url,
    async close() {
      await consul?.close();
      await dns?.close();
      dnsSource?.close();
      await campaign?.stop();
      await directory?.stop();
      await stopKubernetes();
      unwatchStore();
      unwatchCatalog();
      cache.stop();
      catalog.stop();
      await ca.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

