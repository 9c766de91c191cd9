// The control plane's HTTP API under /v1 (documented in docs/api.md): catalog, resources, proxy
// status, workload certificates and the control plane's own health. Each handler validates, acts,
// and replies JSON.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { WeftError, errorMessage, invalid } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Resource } from '../../config/resource.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { findResourceType } from '../../config/kinds/index.ts';
import { validateRegistration } from '../../config/registration.ts';
import { STREAM_PATH } from '../../config/stream-protocol.ts';
import { createPublicKey } from 'node:crypto';
import { CERTIFICATES_BUNDLE_PATH, CERTIFICATES_PATH, spiffeId, validateCertificateApiRequest, type IssuedCertificate } from '../../config/identity.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import { callerOf, callerScope, requireScope } from '../auth/caller.ts';
import { checkCsr } from '../auth/csr.ts';
import { keyIdOf } from '../auth/proof.ts';
import { tokenInfo, validateTokenRequest, type TokenStore } from '../auth/tokens.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Store } from '../store/store.ts';
import type { SnapshotCache } from '../snapshot/cache.ts';
import { serviceModels } from '../snapshot/builder.ts';
import { routeStatus, routingIndex } from '../snapshot/routes.ts';
import { nodeScope } from '../snapshot/node-key.ts';
import type { ProxyRegistry } from '../stream/proxy-registry.ts';
import { handleStream } from '../stream/stream-server.ts';
import { mergeProxyRows, proxyRows, type ProxyRow } from '../stream/proxy-rows.ts';
import { DEFAULT_STATS_WINDOW_SECONDS } from '../stats/stats-window.ts';
import type { StatsWindow } from '../stats/stats-window.ts';
import { prometheusTargets } from '../stats/prometheus-sd.ts';
import { clusterTargets, failuresQuery, lookupRequest, recentFailures, requestIdParam } from '../observe/fate-lookup.ts';
import { readJson, sendJson } from './http-util.ts';
import { TAP_PATH, serveTap } from '../observe/tap.ts';
import { Router, type Params } from './router.ts';

export interface ApiDeps {
  readonly store: Store;
  readonly catalog: Catalog;
  readonly cache: SnapshotCache;
  readonly proxies: ProxyRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly version: string;
  readonly startedAt: number;
  readonly storeName: string;
  readonly ca: CertificateAuthority;
  readonly tokens: TokenStore;
  /** The golden signals the sidecars report up their streams (GET /v1/stats). */
  readonly stats: StatsWindow;
  /** Each stats report received: accepted, or rejected as invalid (the control plane counts them). */
  readonly onStatsReport?: (result: 'accepted' | 'rejected') => void;
  /** Whether this replica leads the replicas (and which one does, on etcd); shown by GET /v1/health. */
  readonly replication?: () => { readonly leader: boolean; readonly leaderUrl?: string };
  /** This replica's API URL, shown as each of its proxies' `replica` (replicas on etcd only). */
  readonly replicaUrl?: () => string | undefined;
  /** The proxies of the other replicas, as they last published them (replicas on etcd only). */
  readonly otherProxies?: () => Promise<readonly ProxyRow[]>;
  /** Called after each certificate is issued (the control plane counts them). */
  readonly onCertificateIssued?: (issued: IssuedCertificate) => void;
}

function resourceTypeParam(plural: string) {
  const type = findResourceType(plural);
  if (!type) throw new WeftError('WEFT_ERR_API_UNKNOWN_KIND', `unknown resource type ${JSON.stringify(plural)}`, 404);
  return type;
}

function validateOrThrow(raw: unknown, prefix = ''): Resource {
  const result = validateResource(raw);
  if (!result.ok) {
    const details = result.errors.map((e) => ({ path: prefix ? `${prefix}.${e.path}` : e.path, message: e.message }));
    throw invalid('WEFT_ERR_RESOURCE_INVALID', `invalid ${(raw as { kind?: string })?.kind ?? 'resource'}: ${details.length} problem(s), nothing changed`, details);
  }
  return result.value;
}

/**
 * Whether an instance may receive mesh traffic for its service: `ok` when its identity is its own
 * service's SPIFFE ID in this trust domain, `mismatch` for any other, `missing` when it has none.
 */
export function identityStatus(inst: Pick<InstanceState, 'identity' | 'namespace' | 'service'>, trustDomain: string): 'ok' | 'mismatch' | 'missing' {
  if (inst.identity === undefined) return 'missing';
  return inst.identity === spiffeId({ trustDomain, namespace: inst.namespace, service: inst.service }) ? 'ok' : 'mismatch';
}

/** GET: the golden signals of the last `?window=SECONDS` (docs/api.md). */
export const STATS_PATH = '/v1/stats';
/** GET: Prometheus HTTP service discovery (http_sd_configs) of every connected sidecar's /metrics. */
export const PROMETHEUS_TARGETS_PATH = '/v1/prometheus/targets';

/**
 * The query of GET /v1/stats: `window` whole seconds from 1 to the retention (default 60), `service`
 * NAME.NAMESPACE. Anything else is a 400 naming the parameter.
 */
export function statsQuery(url: URL, retentionSeconds: number): { windowSeconds: number; service?: string } {
  const w = url.searchParams.get('window');
  let windowSeconds = DEFAULT_STATS_WINDOW_SECONDS;
  if (w !== null) {
    windowSeconds = /^[0-9]{1,7}$/.test(w) ? Number(w) : NaN;
    if (!(windowSeconds >= 1 && windowSeconds <= retentionSeconds)) throw invalid('WEFT_ERR_API_BAD_REQUEST', `window must be whole seconds from 1 to ${retentionSeconds}, got ${JSON.stringify(w)}`, [{ path: 'window', message: `must be whole seconds from 1 to ${retentionSeconds}` }]);
  }
  const service = url.searchParams.get('service') ?? undefined;
  if (service !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service)) {
    throw invalid('WEFT_ERR_API_BAD_REQUEST', `service must be NAME.NAMESPACE, got ${JSON.stringify(service)}`, [{ path: 'service', message: 'must be NAME.NAMESPACE' }]);
  }
  return { windowSeconds, ...(service !== undefined && { service }) };
}

function forbidden(message: string): WeftError {
  return new WeftError('WEFT_ERR_AUTH_FORBIDDEN', message, 403);
}

/** GET /v1/ca: the CA's roots, intermediates and rotation phase. */
export const CA_PATH = '/v1/ca';
/** POST: start a root rotation (202 with the CA status). */
export const CA_ROTATE_PATH = '/v1/ca/rotate';

/**
 * The CA part of /v1/health: the trust domain and the expiry of what an operator watches (`weft
 * check` warns from these): the signing root (`rootNotAfter`), every root of the bundle and every
 * intermediate, and the rotation phase. Nothing secret: the endpoint is open.
 */
function caHealth(ca: CertificateAuthority) {
  const status = ca.status();
  return {
    trustDomain: ca.trustDomain,
    rootNotAfter: new Date(ca.rootNotAfter).toISOString(),
    roots: status.roots.map((r) => ({ subject: r.subject, fingerprint256: r.fingerprint256, notAfter: r.notAfter, signing: r.signing })),
    intermediates: status.intermediates.map((c) => ({ subject: c.subject, fingerprint256: c.fingerprint256, notAfter: c.notAfter })),
    rotationPhase: status.phase,
  };
}

export function createRoutes(deps: ApiDeps): Router {
  const { store, catalog, cache, proxies, clock } = deps;
  const router = new Router();

  router.add('GET', '/v1/health', (_req, res) =>
    sendJson(res, 200, {
      status: 'ok',
      version: deps.version,
      uptimeSeconds: Math.round((clock.now() - deps.startedAt) / 1000),
      store: deps.storeName,
      instances: catalog.list().length,
      proxiesConnected: proxies.connectedCount(),
      // Replicas on etcd: whether this one leads (runs TTL expiry, checks, the Kubernetes source), and which does.
      ...(deps.replication && { replication: deps.replication() }),
      // No secret here (the endpoint is open): what an operator checks before the root runs out.
      ca: caHealth(deps.ca),
    }),
  );

  // ── the CA: its roots and rotation ─────────────────────────────────────────────────────────
  router.add('GET', CA_PATH, (_req, res) => sendJson(res, 200, deps.ca.status()));
  router.add('POST', CA_ROTATE_PATH, async (_req, res) => sendJson(res, 202, await deps.ca.rotate()));

  // ── catalog ────────────────────────────────────────────────────────────────────────────────
  router.add('GET', '/v1/catalog/services', async (_req, res, _p, url) => {
    const ns = url.searchParams.get('namespace');
    const models = serviceModels({ resources: await store.listResources({ kind: 'Service' }), instances: catalog.list() });
    const services = models
      .filter((m) => !ns || m.namespace === ns)
      .map((m) => ({
        name: m.name,
        namespace: m.namespace,
        ports: m.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
        instances: m.members.length,
        passing: m.members.filter((i) => i.health === 'passing').length,
      }));
    sendJson(res, 200, { items: services });
  });

  router.add('GET', '/v1/catalog/services/:namespace/:name', async (_req, res, p) => {
    const models = serviceModels({ resources: await store.listResources({ kind: 'Service' }), instances: catalog.list() });
    const model = models.find((m) => m.name === p.name && m.namespace === p.namespace);
    if (!model) throw new WeftError('WEFT_ERR_CATALOG_NOT_FOUND', `no service ${p.name} in namespace ${p.namespace}`, 404);
    sendJson(res, 200, { name: model.name, namespace: model.namespace, ports: model.ports, instances: model.members });
  });

  router.add('GET', '/v1/catalog/instances', (_req, res, _p, url) => {
    const service = url.searchParams.get('service');
    const ns = url.searchParams.get('namespace');
    const items = catalog
      .list()
      .filter((i) => (!service || i.service === service) && (!ns || i.namespace === ns))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.service.localeCompare(b.service) || a.id.localeCompare(b.id))
      .map((i) => ({ ...i, identityStatus: identityStatus(i, deps.ca.trustDomain) }));
    sendJson(res, 200, { items });
  });

  router.add('POST', '/v1/catalog/instances', async (req, res) => {
    const result = validateRegistration(await readJson(req));
    if (!result.ok) throw invalid('WEFT_ERR_CATALOG_INVALID_REGISTRATION', `invalid registration: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, result.errors);
    const caller = callerOf(req);
    requireScope(caller, result.value.namespace, result.value.service, 'register instances');
    // A proxy registers its instance under the identity it proved, and no other.
    const proven = callerScope(caller)?.identity;
    if (proven !== undefined && result.value.identity !== proven) {
      throw forbidden(`a proxy proving ${proven} may register instances only with that identity, not ${result.value.identity === undefined ? 'none' : result.value.identity}`);
    }
    const existed = catalog.get(result.value.namespace, result.value.service, result.value.id) !== undefined;
    sendJson(res, existed ? 200 : 201, await catalog.register(result.value));
  });

  const instanceParams = (p: Params) => [p.namespace, p.service, p.id] as const;
  router.add('GET', '/v1/catalog/instances/:namespace/:service/:id', (req, res, p) => {
    requireScope(callerOf(req), p.namespace, p.service, 'read instances');
    const inst = catalog.get(...instanceParams(p));
    if (!inst) throw new WeftError('WEFT_ERR_CATALOG_NOT_FOUND', `no instance ${p.id} of service ${p.service} in namespace ${p.namespace}`, 404);
    sendJson(res, 200, inst);
  });
  router.add('PUT', '/v1/catalog/instances/:namespace/:service/:id/heartbeat', async (req, res, p) => {
    requireScope(callerOf(req), p.namespace, p.service, 'heartbeat instances');
    sendJson(res, 200, await catalog.heartbeat(...instanceParams(p)));
  });
  router.add('DELETE', '/v1/catalog/instances/:namespace/:service/:id', async (req, res, p) => {
    requireScope(callerOf(req), p.namespace, p.service, 'deregister instances');
    sendJson(res, 200, await catalog.deregister(...instanceParams(p)));
  });

  // ── resources ──────────────────────────────────────────────────────────────────────────────
  router.add('GET', '/v1/resources', async (_req, res, _p, url) => {
    const ns = url.searchParams.get('namespace') ?? undefined;
    sendJson(res, 200, { items: await store.listResources({ namespace: ns }) });
  });
  router.add('GET', '/v1/resources/:plural', async (_req, res, p, url) => {
    const type = resourceTypeParam(p.plural);
    const ns = url.searchParams.get('namespace') ?? undefined;
    sendJson(res, 200, { items: await withRouteStatus(await store.listResources({ kind: type.kind, namespace: ns })) });
  });
  router.add('GET', '/v1/resources/:plural/:namespace/:name', async (_req, res, p) => {
    const type = resourceTypeParam(p.plural);
    const found = await store.getResource(type.kind, p.namespace, p.name);
    if (!found) throw new WeftError('WEFT_ERR_STORE_NOT_FOUND', `${type.kind} ${p.namespace}/${p.name} not found`, 404);
    sendJson(res, 200, (await withRouteStatus([found]))[0]);
  });

  /** Routes carry their Gateway API status (Accepted, ResolvedRefs per parent), computed from what is stored now. */
  const withRouteStatus = async (items: Resource[]): Promise<Resource[]> => {
    const isRoute = (r: Resource): boolean => r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute' || r.kind === 'TCPRoute';
    if (!items.some(isRoute)) return items;
    const all = await store.listResources({});
    const index = routingIndex(all);
    const models = serviceModels({ resources: all, instances: catalog.list() });
    const services = new Map(models.map((m) => [`${m.namespace}/${m.name}`, m.ports.map((port) => port.port)]));
    return items.map((r) => (isRoute(r) ? { ...r, status: routeStatus(r, index, services) } : r));
  };
  router.add('PUT', '/v1/resources/:plural/:namespace/:name', async (req, res, p) => {
    const type = resourceTypeParam(p.plural);
    const resource = validateOrThrow(await readJson(req));
    if (resource.kind !== type.kind || resource.metadata.namespace !== p.namespace || resource.metadata.name !== p.name) {
      throw new WeftError('WEFT_ERR_API_PATH_MISMATCH', `body is ${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name} but the path names ${type.kind} ${p.namespace}/${p.name}`, 400);
    }
    const result = await store.applyResource(resource);
    sendJson(res, result.created ? 201 : 200, { ...result.resource, status: { applied: result.created ? 'created' : result.unchanged ? 'unchanged' : 'configured' } });
  });
  router.add('DELETE', '/v1/resources/:plural/:namespace/:name', async (_req, res, p, url) => {
    const type = resourceTypeParam(p.plural);
    const expectedVersion = url.searchParams.get('resourceVersion') ?? undefined;
    sendJson(res, 200, await store.deleteResource(type.kind, p.namespace, p.name, { expectedVersion }));
  });

  /** Many resources at once (`weft apply -f` with several documents): all are validated before any is written. */
  router.add('POST', '/v1/apply', async (req, res) => {
    const body = await readJson(req);
    const items = (body as { items?: unknown })?.items;
    if (!Array.isArray(items)) throw invalid('WEFT_ERR_API_BAD_REQUEST', 'body must be {"items": [resource, ...]}', [{ path: 'items', message: 'must be a list' }]);
    const errors: { path: string; message: string }[] = [];
    const valid: Resource[] = [];
    items.forEach((raw, i) => {
      const r = validateResource(raw);
      if (r.ok) valid.push(r.value);
      else for (const e of r.errors) errors.push({ path: e.path ? `items[${i}].${e.path}` : `items[${i}]`, message: e.message });
    });
    if (errors.length) throw invalid('WEFT_ERR_RESOURCE_INVALID', `invalid resources, nothing applied: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
    const results = [];
    for (const resource of valid) {
      const r = await store.applyResource(resource);
      results.push({ kind: r.resource.kind, namespace: r.resource.metadata.namespace, name: r.resource.metadata.name, resourceVersion: r.resource.metadata.resourceVersion, applied: r.created ? 'created' : r.unchanged ? 'unchanged' : 'configured' });
    }
    sendJson(res, 200, { items: results });
  });

  // ── proxies ────────────────────────────────────────────────────────────────────────────────
  router.add('GET', '/v1/proxies', async (_req, res) => {
    const own = proxyRows(proxies, cache, clock.now(), deps.replicaUrl?.());
    // Replicas on etcd: the proxies of the others too, as they last published them.
    const items = deps.otherProxies ? mergeProxyRows(own, await deps.otherProxies()) : own;
    sendJson(res, 200, { items });
  });
  // ── golden signals and Prometheus service discovery ──────────────────────────────────────────
  router.add('GET', STATS_PATH, (_req, res, _p, url) => {
    const { windowSeconds, service } = statsQuery(url, deps.stats.retentionSeconds);
    sendJson(res, 200, deps.stats.summary(windowSeconds, service));
  });
  router.add('GET', PROMETHEUS_TARGETS_PATH, (_req, res) => sendJson(res, 200, prometheusTargets(proxies.list(clock.now()))));
  // ── request fates, from the sidecars' admin listeners (observe/fate-lookup.ts) ───────────────
  // On replicas, the proxies whose stream is on another replica too (the rows it publishes).
  const fateTargets = async () => clusterTargets(proxies.list(clock.now()), deps.otherProxies ? await deps.otherProxies() : []);
  router.add('GET', '/v1/requests/:id', async (_req, res, p) => {
    const id = requestIdParam(p.id);
    sendJson(res, 200, await lookupRequest(await fateTargets(), id));
  });
  router.add('GET', '/v1/failures', async (_req, res, _p, url) => {
    const q = failuresQuery(url);
    sendJson(res, 200, await recentFailures(await fateTargets(), q));
  });
  // A live stream of a service's requests, relayed from its sidecars' admin listeners (`weft tap`).
  router.add('GET', TAP_PATH, (req, res, _p, url) => serveTap(req, res, url, { proxies, ...(deps.otherProxies && { otherProxies: deps.otherProxies }), clock, log: deps.log.child('tap') }));

  // ── certificates ───────────────────────────────────────────────────────────────────────────
  router.add('POST', CERTIFICATES_PATH, async (req, res) => {
    const caller = callerOf(req);
    const result = validateCertificateApiRequest(await readJson(req));
    if (!result.ok) throw invalid('WEFT_ERR_CA_INVALID_REQUEST', `invalid certificate request: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, result.errors);
    const { namespace, service, proxyId } = result.value;
    // The identity signed is the one the credential allows: a join token's, or the proxy certificate's own.
    requireScope(caller, namespace, service, 'get a certificate');
    const identity = spiffeId({ trustDomain: deps.ca.trustDomain, namespace, service });
    let publicKey: string;
    if (result.value.csr !== undefined) {
      const csr = await checkCsr(result.value.csr);
      const other = csr.uris.find((u) => u !== identity);
      if (other !== undefined) throw forbidden(`the CSR asks for ${other}, but this request may only get ${identity}`);
      publicKey = csr.publicKey;
    } else {
      // A bare key proves nothing about who holds it: only callers trusted with any identity may send one.
      if (caller.kind === 'join' || caller.kind === 'proxy') throw invalid('WEFT_ERR_CA_CSR_REQUIRED', 'a proxy must send a CSR (csr), not a bare public key', [{ path: 'csr', message: 'required' }]);
      publicKey = result.value.publicKey!;
    }
    if (caller.kind === 'join' || caller.kind === 'proxy') {
      const why = proxies.refuseProxyId(proxyId, identity, caller.kind === 'proxy' ? caller.keyId : undefined);
      if (why !== undefined) throw new WeftError('WEFT_ERR_AUTH_PROXY_ID_TAKEN', `cannot issue a certificate to proxy ${proxyId}: ${why}`, 409);
    }
    // The key's own problems (unparsable, unsupported type or size) come back as a 400 on `publicKey`.
    // Awaited: the CA's issue may be asynchronous (its internals are being rewritten on another branch).
    const issued = await deps.ca.issue({ namespace, service, proxyId, publicKey });
    proxies.bindProxyId(proxyId, issued.identity, keyIdOf(createPublicKey(publicKey)));
    proxies.certificateIssued(proxyId, { identity: issued.identity, serial: issued.serial, notAfter: issued.notAfter });
    deps.onCertificateIssued?.(issued);
    sendJson(res, 200, issued);
  });
  router.add('GET', CERTIFICATES_BUNDLE_PATH, (_req, res) => sendJson(res, 200, { trustDomain: deps.ca.trustDomain, trustBundle: deps.ca.trustBundle() }));

  router.add('POST', STREAM_PATH, (req: IncomingMessage, res: ServerResponse) => {
    const caller = callerOf(req);
    handleStream(req, res, {
      cache,
      registry: proxies,
      clock,
      log: deps.log.child('stream'),
      trust: deps.ca,
      // A proxy streams only as itself: its own service's snapshot, under a proxy id bound to its key.
      authorizeHello: (node) => {
        if (caller.kind !== 'proxy') return undefined;
        if (node.service !== caller.service || node.namespace !== caller.namespace) {
          return `this proxy (${caller.identity}) may not stream as service ${node.service} in namespace ${node.namespace}`;
        }
        const why = proxies.refuseProxyId(node.id, caller.identity, caller.keyId);
        if (why !== undefined) return why;
        proxies.bindProxyId(node.id, caller.identity, caller.keyId);
        return undefined;
      },
      // The checks this sidecar runs on its own app; the hello above tied the node id to the caller.
      onHealth: (node, checks) => {
        catalog.reportChecks(node.namespace, node.service, node.id, checks).catch((err) => deps.log.debug('health report for an instance not (yet) registered', { proxy: node.id, err: errorMessage(err) }));
      },
      onStats: (node, report) => {
        if (report) deps.stats.record(node.id, `${node.service}.${node.namespace}`, report);
        deps.onStatsReport?.(report ? 'accepted' : 'rejected');
      },
    });
  });

  // ── tokens ─────────────────────────────────────────────────────────────────────────────────
  router.add('POST', '/v1/tokens', async (req, res) => {
    const request = validateTokenRequest(await readJson(req));
    const { token, stored } = await deps.tokens.create(request, clock.now());
    deps.log.info('token created', { id: stored.id, kind: stored.kind, role: stored.role, service: stored.service, namespace: stored.namespace });
    // The only time the token's text leaves the control plane.
    sendJson(res, 201, { ...tokenInfo(stored), token });
  });
  router.add('GET', '/v1/tokens', (_req, res) => sendJson(res, 200, { items: deps.tokens.list().map(tokenInfo) }));
  router.add('DELETE', '/v1/tokens/:id', async (_req, res, p) => {
    const revoked = await deps.tokens.revoke(p.id);
    deps.log.info('token revoked', { id: revoked.id, kind: revoked.kind });
    sendJson(res, 200, tokenInfo(revoked));
  });

  return router;
}
