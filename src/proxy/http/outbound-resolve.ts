// The outbound side's first step: which mesh Service (and port) a request names, or the real
// address it passes through to, or why it is refused. The request target is read once (an
// absolute-form URL wins over Host, RFC 9112 §3.2.2); parsed Host values are cached, bounded.

import { parseMeshHost, type MeshHost } from '../../config/mesh-host.ts';
import type { ServicePortEntry } from '../balance/service-table.ts';
import type { LocalReplyReason } from './local-reply.ts';
import { hostError, requestTarget } from './request-target.ts';
import type { AnyRequest } from './forward.ts';
import type { OutboundDeps } from './outbound-handler.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0']);

/** `host[:port]` or `[v6]:port` → host and port (the default when absent); undefined if malformed. */
export function splitAuthority(authority: string, defaultPort: number | undefined): { host: string; port: number } | undefined {
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > 0 && !authority.endsWith(']');
  const port = hasPort ? Number(authority.slice(colon + 1)) : defaultPort;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const host = (hasPort ? authority.slice(0, colon) : authority).replace(/^\[|\]$/g, '');
  return host ? { host, port } : undefined;
}

export interface Resolved {
  readonly kind: 'mesh';
  readonly entry: ServicePortEntry;
  readonly authority: string;
  readonly path: string;
}
export interface Passthrough {
  readonly kind: 'passthrough';
  readonly host: string;
  readonly port: number;
  readonly authority: string;
  readonly path: string;
}
export type Resolution = Resolved | Passthrough | { readonly kind: 'error'; readonly status: number; readonly reason: LocalReplyReason; readonly message: string };

/**
 * The request's authority and origin-form path (request-target.ts): an absolute-form target names
 * the authority and wins over Host (RFC 9112 §3.2.2); otherwise Host or `:authority` names it.
 * A string says why the request is invalid (400), undefined that it names no host.
 */
export function target(req: AnyRequest): { authority: string; path: string } | string | undefined {
  const t = requestTarget(req);
  if (typeof t === 'string') return t;
  if (t.authority !== undefined) return { authority: t.authority, path: t.path };
  const authority = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
  return authority ? { authority, path: t.path } : undefined;
}

/** The resolver of one outbound handler: `resolve` a request's target, and whether a host:port is this sidecar's own listener. */
export interface OutboundResolver {
  resolve(req: AnyRequest, t?: ReturnType<typeof target>): Resolution;
  isSelf(host: string, port: number): boolean;
}

/**
 * The resolver of one outbound listener: `resolve` answers `mesh` (the Service port entry),
 * `passthrough` (host and port, when MeshConfig allows it) or `error` (status, x-weft-reason and
 * message for the local reply). Host values are parsed once each (a bounded cache).
 */
export function createResolver(deps: Pick<OutboundDeps, 'node' | 'table' | 'allowPassthrough' | 'ownPort'>): OutboundResolver {
  const { node } = deps;
  /** A passthrough to this sidecar's own outbound listener would loop forever. */
  const isSelf = (host: string, port: number): boolean => LOOPBACK.has(host) && port === deps.ownPort();

  // Parsed Host values, bounded: a client sends few distinct ones, a hostile one cannot grow it.
  const hostCache = new Map<string, MeshHost | null>();
  const meshHost = (authority: string): MeshHost | undefined => {
    let host = hostCache.get(authority);
    if (host === undefined) {
      host = parseMeshHost(authority) ?? null;
      if (hostCache.size >= 1024) hostCache.clear();
      hostCache.set(authority, host);
    }
    return host ?? undefined;
  };

  const resolve = (req: AnyRequest, t = target(req)): Resolution => {
    if (typeof t === 'string') return { kind: 'error', status: 400, reason: 'bad-request', message: `bad request target: ${t}` };
    if (!t) return { kind: 'error', status: 400, reason: 'bad-request', message: 'request names no host (absolute-form URL or Host header)' };
    // Checked here, where an authority is first seen: the route cache only ever holds valid ones.
    const badHost = hostError(t.authority);
    if (badHost !== undefined) return { kind: 'error', status: 400, reason: 'bad-request', message: `bad request target: ${badHost}` };
    const table = deps.table.get();
    if (!table) return { kind: 'error', status: 503, reason: 'no-snapshot', message: 'this sidecar has not received its configuration from the control plane yet' };
    const host = meshHost(t.authority);
    const service = host && table.lookup(host.name, host.namespace ?? node.namespace);
    if (!host || !service) {
      if (deps.allowPassthrough()) {
        const pass = splitAuthority(t.authority, 80);
        if (!pass) return { kind: 'error', status: 400, reason: 'bad-request', message: `${JSON.stringify(t.authority)} is not a valid host[:port]` };
        if (isSelf(pass.host, pass.port)) {
          return { kind: 'error', status: 400, reason: 'bad-request', message: `${t.authority} is this sidecar's own outbound listener; name a mesh service in the Host header or URL` };
        }
        return { kind: 'passthrough', host: pass.host, port: pass.port, authority: t.authority, path: t.path };
      }
      return { kind: 'error', status: 404, reason: 'unknown-service', message: `${t.authority} is not a service of the mesh (namespace ${host?.namespace ?? node.namespace}) and outbound traffic is registry-only` };
    }
    const entry = host.port === undefined ? service.defaultPort : service.ports.get(host.port);
    if (!entry) {
      const ports = [...service.ports.keys()].join(', ') || 'none';
      return { kind: 'error', status: 404, reason: 'unknown-port', message: `service ${service.service.name}.${service.service.namespace} has no port ${host.port ?? '(default)'}; its ports: ${ports}` };
    }
    return { kind: 'mesh', entry, authority: t.authority, path: t.path };
  };

  return { resolve, isSelf };
}
