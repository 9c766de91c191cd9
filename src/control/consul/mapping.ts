// Consul's service definitions (PUT /v1/agent/service/register) mapped onto weft's catalog, and
// back: the service's Name is the weft service in namespace `default`, its ID the instance id,
// Tags become the `tags` label (comma-separated, as DNS reads it), Meta labels under `meta.consul.weft.dev/`, TTL
// checks become the instance's TTL plus reported health, HTTP, TCP and gRPC checks weft's active checks.

import type { HealthCheckSpec, HealthStatus, InstanceRegistration, InstanceState } from '../../config/catalog-types.ts';
import { validateRegistration } from '../../config/registration.ts';
import { DEFAULT_NAMESPACE } from '../../config/resource.ts';
import { durationMs } from './duration.ts';
import { Fields } from './decode.ts';
import { badRequest, decodeFailed, unsupported } from './errors.ts';
import { TAG_LABELS } from '../dns/catalog-view.ts';

/** The weft namespace Consul's services live in (Consul's own namespaces are an Enterprise feature). */
export const CONSUL_NAMESPACE = DEFAULT_NAMESPACE;
/** `Meta: {k: v}` is kept as the label `meta.consul.weft.dev/k: v`. */
export const META_LABEL_PREFIX = 'meta.consul.weft.dev/';
/** Consul keeps a critical service forever unless DeregisterCriticalServiceAfter says otherwise: 100 years stands for that. */
export const NEVER_DEREGISTER_SECONDS = 100 * 365 * 86_400;

/** One of a registered service's checks, as Consul names and shows it. */
export interface ConsulCheckDef {
  /** CheckID: given, or `service:<ID>` (one check) / `service:<ID>:<n>` (several, from 1). */
  readonly id: string;
  readonly name: string;
  readonly notes: string;
  readonly type: 'ttl' | 'http' | 'tcp' | 'grpc';
  /** TTL checks: how long a pass/warn/fail stays valid, ms. */
  readonly ttlMs?: number;
  /** HTTP, TCP and gRPC checks: the index of the weft active check in the registration's `checks`. */
  readonly activeIndex?: number;
  /** HTTP: the URL; TCP: `host:port`; gRPC: `host:port[/service]`. */
  readonly target?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  /** Status before the first result: Consul's default is critical, `Status` in the definition overrides. */
  readonly initialStatus: HealthStatus;
  /** Output before the first result. */
  readonly initialOutput: string;
}

export interface ConsulRegistration {
  readonly registration: InstanceRegistration;
  readonly checks: readonly ConsulCheckDef[];
}

const STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];
/** Service-definition fields weft accepts but cannot honour: refused by name rather than ignored. */
const UNSUPPORTED_SERVICE_FIELDS = ['Proxy', 'SocketPath', 'Locality'];
/** Check kinds Consul has and weft does not run. */
const UNSUPPORTED_CHECK_FIELDS = ['Args', 'ScriptArgs', 'H2PING', 'UDP', 'DockerContainerID', 'AliasService', 'AliasNode', 'OSService', 'Body', 'Header'];

function isAnyAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]' || address === '0:0:0:0:0:0:0:0';
}

/**
 * Decodes a Consul service definition (the body of PUT /v1/agent/service/register) into a weft
 * registration and the Consul view of its checks. `clientAddress` is the registering client's
 * address, used when the definition has none (Consul uses its agent's, which is on the app's host).
 * Throws WEFT_ERR_CONSUL_DECODE (a JSON type Consul's decoder refuses), WEFT_ERR_CONSUL_INVALID
 * (what Consul refuses, e.g. `Missing service name`, or what weft's catalog refuses: names that
 * are not DNS labels, tags with commas or white space) and WEFT_ERR_CONSUL_UNSUPPORTED (Connect,
 * script, H2PING, UDP, ... checks, TLS checks), all 400 with a text naming the field.
 */
export function decodeServiceDefinition(raw: unknown, clientAddress: string): ConsulRegistration {
  if (raw === undefined) throw decodeFailed('EOF');
  const f = Fields.object(raw, '');
  if (!f) throw decodeFailed('expected a JSON object, got null');
  const name = f.string('Name');
  const givenId = f.string('ID');
  const tags = f.stringList('Tags') ?? [];
  const meta = f.stringMap('Meta') ?? {};
  const address = f.string('Address') ?? '';
  const port = f.integer('Port') ?? 0;
  const kind = f.string('Kind') ?? '';
  f.boolean('EnableTagOverride');
  // TaggedAddresses (lan/wan/virtual addresses) are accepted and not kept: weft has one address per instance.
  const weights = Fields.object(f.raw('Weights'), 'Weights');
  const passingWeight = weights?.integer('Passing');
  weights?.integer('Warning');
  const connect = Fields.object(f.raw('Connect'), 'Connect');
  const ns = f.string('Namespace');
  const partition = f.string('Partition');
  const rawChecks = [
    ...(f.has('Check') ? [{ c: Fields.object(f.raw('Check'), 'Check')!, where: 'Check' }] : []),
    ...(f.objectList('Checks') ?? []).map((c, i) => ({ c, where: `Checks[${i}]` })),
  ];

  // Consul's own refusals, in its words.
  if (!name) throw badRequest('Missing service name');
  if (isAnyAddress(address)) throw badRequest('Invalid service address');
  if (port < 0 || port > 65535) throw badRequest(`Invalid service port ${port}`);
  // What Consul has and weft does not.
  if (kind !== '' && kind !== 'typical') throw unsupported(`Kind ${JSON.stringify(kind)} is not supported by weft: register only typical services (weft's sidecars are its service mesh)`);
  if (connect && (connect.has('SidecarService') || connect.boolean('Native'))) throw unsupported('Connect is not supported by weft: run a weft sidecar for the service instead (weft run / weft proxy)');
  for (const field of UNSUPPORTED_SERVICE_FIELDS) if (f.has(field)) throw unsupported(`${field} is not supported by weft`);
  if (ns && ns !== 'default') throw unsupported(`Namespace ${JSON.stringify(ns)}: weft's Consul API serves Consul's default namespace only`);
  if (partition && partition !== 'default') throw unsupported(`Partition ${JSON.stringify(partition)}: weft's Consul API serves Consul's default partition only`);
  if (name !== name.toLowerCase() || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    throw badRequest(`Name ${JSON.stringify(name)}: weft needs service names that are DNS labels (lower-case letters, digits and -, at most 63)`);
  }
  const id = givenId || name;

  // Tags are one label, `tags: "a,b"`, which weft's DNS interface also reads (TAG.NAME.service.consul).
  tags.forEach((tag, i) => {
    if (tag === '' || tag.includes(',') || /[\s\x00-\x1f]/.test(tag) || tag.length > 255) {
      throw badRequest(`Tags[${i}] ${JSON.stringify(tag)}: weft keeps tags in the \`tags\` label, comma-separated: a tag must be non-empty, at most 255 characters, without commas or white space`);
    }
  });
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) labels[META_LABEL_PREFIX + k] = v;

  const active: Record<string, unknown>[] = [];
  const checks: ConsulCheckDef[] = [];
  let ttlMaxMs = 0;
  let deregisterAfterMs: number | undefined;
  rawChecks.forEach(({ c, where }, i) => {
    const bad = (why: string): Error => decodeFailed(`${where}: ${why}`);
    const given = c.string('CheckID') || c.string('ID');
    const checkName = c.string('Name') || `Service '${name}' check`;
    const notes = c.string('Notes') ?? '';
    const status = c.string('Status') ?? '';
    const ttl = durationMs(c.raw('TTL'), bad);
    const interval = durationMs(c.raw('Interval'), bad);
    const timeout = durationMs(c.raw('Timeout'), bad);
    const http = c.string('HTTP') ?? '';
    const tcp = c.string('TCP') ?? '';
    const grpc = c.string('GRPC') ?? '';
    const grpcTls = c.boolean('GRPCUseTLS') ?? false;
    const tcpTls = c.boolean('TCPUseTLS') ?? false;
    const method = c.string('Method') ?? '';
    const deregister = durationMs(c.raw('DeregisterCriticalServiceAfter'), bad);
    const successBefore = c.integer('SuccessBeforePassing') ?? 0;
    const failuresBefore = c.integer('FailuresBeforeCritical') ?? 0;
    c.boolean('TLSSkipVerify');
    const tlsServerName = c.string('TLSServerName') ?? '';
    for (const field of UNSUPPORTED_CHECK_FIELDS) if (c.has(field)) throw unsupported(`Invalid check: ${where}.${field}: weft runs TTL, HTTP, TCP and gRPC checks only`);
    if (grpcTls || tcpTls) throw unsupported(`Invalid check: ${where}.${grpcTls ? 'GRPCUseTLS' : 'TCPUseTLS'}: weft's checks speak plaintext only`);
    if (status !== '' && !STATUSES.includes(status as HealthStatus)) throw badRequest("Status for checks must 'passing', 'warning', 'critical'");
    const kinds = [ttl !== undefined && ttl > 0, http !== '', tcp !== '', grpc !== ''].filter(Boolean).length;
    if (kinds === 0) throw badRequest(`Invalid check: ${where}: TTL must be > 0 for TTL checks, or give one of HTTP, TCP or GRPC`);
    if (kinds > 1) throw badRequest(`Invalid check: ${where}: give exactly one of TTL, HTTP, TCP or GRPC`);
    if (deregister !== undefined && deregister > 0) deregisterAfterMs = Math.min(deregisterAfterMs ?? Infinity, deregister);
    const checkId = given || (rawChecks.length > 1 ? `service:${id}:${i + 1}` : `service:${id}`);
    const initialStatus = (status || 'critical') as HealthStatus;
    const base = { id: checkId, name: checkName, notes, initialStatus, initialOutput: '' };
    if (ttl !== undefined && ttl > 0) {
      ttlMaxMs = Math.max(ttlMaxMs, ttl);
      checks.push({ ...base, type: 'ttl', ttlMs: ttl });
      return;
    }
    if (!(interval !== undefined && interval > 0)) throw badRequest(`Invalid check: ${where}: Interval must be > 0 for HTTP, TCP or GRPC checks`);
    const spec: Record<string, unknown> = {
      // weft's bounds: an interval of 100 ms to 1 h, a timeout of 10 ms to 10 min (Consul's default 10 s).
      intervalMs: Math.min(3_600_000, Math.max(100, Math.round(interval))),
      timeoutMs: Math.min(600_000, Math.max(10, Math.round(timeout ?? 10_000))),
      healthyThreshold: Math.max(1, successBefore),
      unhealthyThreshold: Math.max(1, failuresBefore),
    };
    if (http !== '') {
      if (method !== '' && method.toUpperCase() !== 'GET') throw unsupported(`Invalid check: ${where}.Method ${JSON.stringify(method)}: weft's HTTP checks send GET only`);
      if (tlsServerName !== '') throw unsupported(`Invalid check: ${where}.TLSServerName: weft's HTTP checks speak plain HTTP only`);
      let url: URL;
      try {
        url = new URL(http);
      } catch {
        throw badRequest(`Invalid check: ${where}.HTTP ${JSON.stringify(http)} is not a URL`);
      }
      if (url.protocol !== 'http:') throw unsupported(`Invalid check: ${where}.HTTP ${JSON.stringify(http)}: weft's HTTP checks speak plain http:// only`);
      Object.assign(spec, { type: 'http', host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80), path: url.pathname + url.search });
    } else if (tcp !== '') {
      const m = /^(.+):(\d+)$/.exec(tcp);
      if (!m) throw badRequest(`Invalid check: ${where}.TCP ${JSON.stringify(tcp)} must be host:port`);
      Object.assign(spec, { type: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) });
    } else {
      // Consul's GRPC is `host:port` (the whole server) or `host:port/service`.
      const m = /^(.+):(\d+)(?:\/(.*))?$/.exec(grpc);
      if (!m) throw badRequest(`Invalid check: ${where}.GRPC ${JSON.stringify(grpc)} must be host:port or host:port/service`);
      Object.assign(spec, { type: 'grpc', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), serviceName: m[3] ?? '' });
    }
    const type = http !== '' ? 'http' : tcp !== '' ? 'tcp' : 'grpc';
    checks.push({ ...base, type, activeIndex: active.length, target: http || tcp || grpc, intervalMs: spec.intervalMs as number, timeoutMs: spec.timeoutMs as number });
    active.push(spec);
  });
  const ids = new Set<string>();
  for (const c of checks) {
    if (ids.has(c.id)) throw badRequest(`Invalid check: CheckID ${JSON.stringify(c.id)} is used twice`);
    ids.add(c.id);
  }

  const validated = validateRegistration({
    service: name,
    namespace: CONSUL_NAMESPACE,
    id,
    address: address || clientAddress,
    // Consul services carry one port; 0 (or none) means none (validated with a stand-in, then dropped):
    // the instance is listed, but gets no mesh traffic.
    ports: [{ port: port || 1, targetPort: port || 1 }],
    labels,
    weight: passingWeight ?? 1,
    ttlSeconds: 0,
    deregisterAfterSeconds: 0,
    checks: active,
  });
  if (!validated.ok) {
    throw badRequest(validated.errors.map((e) => `${consulPath(e.path)}: ${e.message}`).join('; '));
  }
  return {
    registration: {
      ...validated.value,
      // Set after validation: a tag list may be longer than the 63 characters an API label value may be.
      labels: tags.length ? { ...validated.value.labels, [TAG_LABELS.list]: [...new Set(tags)].join(',') } : validated.value.labels,
      ports: port > 0 ? validated.value.ports : [],
      // weft's catalog marks the instance critical when no TTL check has been updated within the longest TTL.
      ttlSeconds: ttlMaxMs > 0 ? Math.ceil(ttlMaxMs / 1000) : 0,
      deregisterAfterSeconds: deregisterAfterMs !== undefined ? Math.ceil(deregisterAfterMs / 1000) : NEVER_DEREGISTER_SECONDS,
    },
    checks,
  };
}

/** weft's field path of a registration error, in Consul's field names. */
function consulPath(path: string): string {
  if (path === 'service') return 'Name';
  if (path === 'id') return 'ID';
  if (path === 'address') return 'Address';
  if (path === 'weight') return 'Weights.Passing';
  if (path.startsWith('ports')) return 'Port';
  if (path.startsWith(`labels.${META_LABEL_PREFIX}`)) return `Meta.${path.slice(`labels.${META_LABEL_PREFIX}`.length)}`;
  if (path.startsWith('checks')) return path.replace(/^checks/, 'Checks');
  return path;
}

/**
 * The Consul view of a weft instance's labels, as weft's DNS interface reads them too: Tags are
 * the `tags` label's comma-separated values, then the `version` label's value (weft's own
 * registrations carry versions there); Meta is the `meta.consul.weft.dev/` labels, prefix removed.
 */
export function tagsAndMeta(labels: Readonly<Record<string, string>>): { tags: string[]; meta: Record<string, string> } {
  const tags: string[] = [];
  for (const t of (labels[TAG_LABELS.list] ?? '').split(',')) if (t.trim() && !tags.includes(t.trim())) tags.push(t.trim());
  const version = labels[TAG_LABELS.version];
  if (version && !tags.includes(version)) tags.push(version);
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (k.startsWith(META_LABEL_PREFIX)) meta[k.slice(META_LABEL_PREFIX.length)] = v;
  return { tags, meta };
}

/** The port a Consul client connects to: the instance's first port's `targetPort` (where it listens), 0 if none. */
export function consulPort(inst: Pick<InstanceState, 'ports'>): number {
  return inst.ports[0]?.targetPort ?? 0;
}

/** The checks Consul shows for an instance registered through weft's own API (or before a restart): derived from what it stores. */
export function derivedChecks(inst: InstanceState): ConsulCheckDef[] {
  const out: ConsulCheckDef[] = [];
  const several = (inst.ttlSeconds > 0 ? 1 : 0) + inst.checks.length > 1;
  let n = 0;
  const nextId = (): string => (several ? `service:${inst.id}:${++n}` : `service:${inst.id}`);
  const name = `Service '${inst.service}' check`;
  if (inst.ttlSeconds > 0) out.push({ id: nextId(), name, notes: '', type: 'ttl', ttlMs: inst.ttlSeconds * 1000, initialStatus: 'passing', initialOutput: '' });
  inst.checks.forEach((c: HealthCheckSpec, i) => {
    const host = c.host ?? inst.address;
    const port = c.port ?? inst.ports[0]?.targetPort ?? 0;
    const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const target = c.type === 'http' ? `http://${hostPort}${c.path ?? '/'}` : c.type === 'grpc' && c.serviceName ? `${hostPort}/${c.serviceName}` : hostPort;
    out.push({ id: nextId(), name, notes: '', type: c.type, activeIndex: i, target, intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, initialStatus: 'passing', initialOutput: '' });
  });
  return out;
}
