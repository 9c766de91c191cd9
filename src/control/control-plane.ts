// `weft control`: assembles the store, certificate authority, catalog, snapshot cache, proxy streams
// and the HTTP API into one server, and tears them down in order on close.

import { http } from '../lib/node-http.ts';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../lib/clock.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { WeftError } from '../lib/errors.ts';
import { Registry } from '../lib/metrics.ts';
import { registerProcessMetrics } from '../lib/process-metrics.ts';
import { WEFT_VERSION } from '../config/version.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import type { Store } from './store/store.ts';
import { Catalog } from './catalog/catalog.ts';
import { SnapshotCache } from './snapshot/cache.ts';
import { ProxyRegistry } from './stream/proxy-registry.ts';
import { createRoutes } from './api/routes.ts';
import { sendError } from './api/http-util.ts';
import { CertificateAuthority, checkCaSettings } from './ca/certificate-authority.ts';

export interface ControlPlaneOptions {
  readonly host?: string;
  readonly port?: number;
  readonly dataDir: string;
  /** When set, every API call but /v1/health needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly store?: Store;
  /** SPIFFE trust domain of the identities the CA issues (default `weft.local`). */
  readonly trustDomain?: string;
  /** Lifetime of issued workload certificates, 5 s to 30 days (default 24 h; below 10 minutes is for tests). */
  readonly certificateTtlSeconds?: number;
  /** The operator's CA (`--ca-cert`, `--ca-key`): signing CA first, then intermediates, then the root. Both or neither. */
  readonly caCertFile?: string;
  readonly caKeyFile?: string;
}

export interface ControlPlane {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger('control');
  // Bad settings fail here, before the store is opened or a port is taken.
  const caSettings = checkCaSettings({ trustDomain: options.trustDomain, leafTtlSeconds: options.certificateTtlSeconds });
  if ((options.caCertFile === undefined) !== (options.caKeyFile === undefined)) {
    throw new WeftError('WEFT_ERR_CA_CONFIG', 'an operator CA needs both the certificate (--ca-cert) and its key (--ca-key)', 400);
  }
  const operator = options.caCertFile !== undefined && options.caKeyFile !== undefined ? { certFile: options.caCertFile, keyFile: options.caKeyFile } : undefined;
  const store = options.store ?? (await openSqliteStore(options.dataDir));
  let ca: CertificateAuthority;
  try {
    ca = await CertificateAuthority.open({ dataDir: options.dataDir, ...caSettings, operator, clock, log: log.child('ca') });
  } catch (err) {
    if (!options.store) await store.close();
    throw err;
  }
  const catalog = new Catalog({ store, clock, log: log.child('catalog') });
  const proxies = new ProxyRegistry();
  const cache = new SnapshotCache({
    clock,
    log: log.child('snapshot'),
    load: async () => ({ resources: await store.listResources(), instances: catalog.list() }),
  });
  await catalog.start();
  const unwatchStore = store.watch((event) => {
    if (event.type === 'resource-put' || event.type === 'resource-delete') cache.changed();
  });
  const unwatchCatalog = catalog.subscribe(() => cache.changed());

  const metrics = new Registry();
  const apiRequests = metrics.counter('weft_control_api_requests_total', 'API requests by method and status code.', ['method', 'code']);
  const proxiesGauge = metrics.gauge('weft_control_proxies_connected', 'Proxies with an open stream.');
  const instancesGauge = metrics.gauge('weft_control_instances', 'Registered instances by health.', ['health']);
  const updateProcessMetrics = registerProcessMetrics(metrics);
  // Bound at start so that the series reads 0 before the first certificate rather than missing.
  const certificatesIssued = metrics.counter('weft_control_certificates_issued_total', 'Workload certificates issued by the CA.').bind();

  const routes = createRoutes({
    store,
    catalog,
    cache,
    proxies,
    clock,
    log,
    version: WEFT_VERSION,
    startedAt: clock.now(),
    storeName: 'sqlite',
    ca,
    onCertificateIssued: () => certificatesIssued.inc(),
  });

  const server = http.createServer(async (req, res) => {
    res.on('finish', () => apiRequests.inc({ method: req.method ?? '', code: String(res.statusCode) }));
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      if (url.pathname === '/metrics' && req.method === 'GET') {
        proxiesGauge.set({}, proxies.connectedCount());
        for (const h of ['passing', 'warning', 'critical']) instancesGauge.set({ health: h }, catalog.list().filter((i) => i.health === h).length);
        updateProcessMetrics();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
        return;
      }
      if (options.token && url.pathname !== '/v1/health' && !bearerMatches(req.headers.authorization, options.token)) {
        throw new WeftError('WEFT_ERR_API_UNAUTHORIZED', 'missing or wrong bearer token (set WEFT_TOKEN or --token)', 401);
      }
      const match = routes.match(req.method ?? 'GET', url.pathname);
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
  log.info('control plane listening', { url, dataDir: options.dataDir, auth: options.token ? 'token' : 'none' });

  return {
    url,
    port,
    async close() {
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

