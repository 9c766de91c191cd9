// The control plane's HTTP API under /v1 (documented in docs/api.md): catalog, resources, proxy
// status, workload certificates and the control plane's own health. Each handler validates, acts,
// and replies JSON.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { WeftError, invalid } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Resource } from '../../config/resource.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { findResourceType } from '../../config/kinds/index.ts';
import { validateRegistration } from '../../config/registration.ts';
import { STREAM_PATH } from '../../config/stream-protocol.ts';
import { CERTIFICATES_BUNDLE_PATH, CERTIFICATES_PATH, validateCertificateRequest, type IssuedCertificate } from '../../config/identity.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Store } from '../store/store.ts';
import type { SnapshotCache } from '../snapshot/cache.ts';
import { serviceModels } from '../snapshot/builder.ts';
import { nodeScope } from '../snapshot/node-key.ts';
import type { ProxyRegistry } from '../stream/proxy-registry.ts';
import { handleStream } from '../stream/stream-server.ts';
import { readJson, sendJson } from './http-util.ts';
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
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
    sendJson(res, 200, { items });
  });

  router.add('POST', '/v1/catalog/instances', async (req, res) => {
    const result = validateRegistration(await readJson(req));
    if (!result.ok) throw invalid('WEFT_ERR_CATALOG_INVALID_REGISTRATION', `invalid registration: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, result.errors);
    const existed = catalog.get(result.value.namespace, result.value.service, result.value.id) !== undefined;
    sendJson(res, existed ? 200 : 201, await catalog.register(result.value));
  });

  const instanceParams = (p: Params) => [p.namespace, p.service, p.id] as const;
  router.add('GET', '/v1/catalog/instances/:namespace/:service/:id', (_req, res, p) => {
    const inst = catalog.get(...instanceParams(p));
    if (!inst) throw new WeftError('WEFT_ERR_CATALOG_NOT_FOUND', `no instance ${p.id} of service ${p.service} in namespace ${p.namespace}`, 404);
    sendJson(res, 200, inst);
  });
  router.add('PUT', '/v1/catalog/instances/:namespace/:service/:id/heartbeat', async (_req, res, p) =>
    sendJson(res, 200, await catalog.heartbeat(...instanceParams(p))),
  );
  router.add('DELETE', '/v1/catalog/instances/:namespace/:service/:id', async (_req, res, p) =>
    sendJson(res, 200, await catalog.deregister(...instanceParams(p))),
  );

  // ── resources ──────────────────────────────────────────────────────────────────────────────
  router.add('GET', '/v1/resources', async (_req, res, _p, url) => {
    const ns = url.searchParams.get('namespace') ?? undefined;
    sendJson(res, 200, { items: await store.listResources({ namespace: ns }) });
  });
  router.add('GET', '/v1/resources/:plural', async (_req, res, p, url) => {
    const type = resourceTypeParam(p.plural);
    const ns = url.searchParams.get('namespace') ?? undefined;
    sendJson(res, 200, { items: await store.listResources({ kind: type.kind, namespace: ns }) });
  });
  router.add('GET', '/v1/resources/:plural/:namespace/:name', async (_req, res, p) => {
    const type = resourceTypeParam(p.plural);
    const found = await store.getResource(type.kind, p.namespace, p.name);
    if (!found) throw new WeftError('WEFT_ERR_STORE_NOT_FOUND', `${type.kind} ${p.namespace}/${p.name} not found`, 404);
    sendJson(res, 200, found);
  });
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
  const certificateOf = (proxyId: string) => {
    const c = proxies.certificate(proxyId);
    return c && { identity: c.identity, serial: c.serial, notAfter: new Date(c.notAfter).toISOString() };
  };
  router.add('GET', '/v1/proxies', (_req, res) => {
    const items = proxies.list(clock.now()).map((s) => {
      const current = cache.currentVersion(nodeScope(s.node));
      return {
        id: s.node.id,
        service: s.node.service,
        namespace: s.node.namespace,
        remote: s.remote,
        connected: s.connected,
        connectedAt: new Date(s.connectedAt).toISOString(),
        currentVersion: current,
        sentVersion: s.sentVersion,
        ackedVersion: s.ackedVersion,
        nackedVersion: s.nackedVersion,
        nackErrors: s.nackErrors,
        certificate: certificateOf(s.node.id),
        // While a rebuild is pending, the current version is about to change: nobody is in sync.
        inSync: s.connected && current !== undefined && s.ackedVersion === current && !cache.pending(),
      };
    });
    sendJson(res, 200, { items });
  });
  // ── certificates ───────────────────────────────────────────────────────────────────────────
  router.add('POST', CERTIFICATES_PATH, async (req, res) => {
    const result = validateCertificateRequest(await readJson(req));
    if (!result.ok) throw invalid('WEFT_ERR_CA_INVALID_REQUEST', `invalid certificate request: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, result.errors);
    // The key's own problems (unparsable, unsupported type or size) come back as the same 400, on `publicKey`.
    const issued = await deps.ca.issue(result.value);
    proxies.certificateIssued(result.value.proxyId, { identity: issued.identity, serial: issued.serial, notAfter: issued.notAfter });
    deps.onCertificateIssued?.(issued);
    sendJson(res, 200, issued);
  });
  router.add('GET', CERTIFICATES_BUNDLE_PATH, (_req, res) => sendJson(res, 200, { trustDomain: deps.ca.trustDomain, trustBundle: deps.ca.trustBundle() }));

  router.add('POST', STREAM_PATH, (req: IncomingMessage, res: ServerResponse) => handleStream(req, res, { cache, registry: proxies, clock, log: deps.log.child('stream'), trust: deps.ca }));

  return router;
}
