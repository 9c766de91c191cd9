// The CORS route filter (Gateway API HTTPCORSFilter, GEP-1767; Fetch standard §3.2): compiled once
// per rule in route-request.ts; a preflight is answered by the client's sidecar, an actual request's
// response gains the Access-Control-* fields through ForwardTarget.editResponse.

import type { IncomingHttpHeaders } from 'node:http';
import type { HTTPCORSFilter } from '../../../config/kinds/http-route.ts';

export interface CompiledCors {
  /** Whether the request is a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (Fetch §3.2.2). */
  isPreflight(method: string, headers: IncomingHttpHeaders): boolean;
  /** The preflight's answer fields (lower-case names); empty when the origin is not allowed. */
  preflight(headers: IncomingHttpHeaders): Record<string, string>;
  /** An editResponse for an actual request from an allowed origin; undefined when none applies. */
  response(headers: IncomingHttpHeaders): ((fields: readonly string[]) => string[]) | undefined;
  /** Whether `origin` (as the Origin field carries it) is allowed. */
  allows(origin: string): boolean;
}

/** Fields the filter owns on a response: the app's own values of them are replaced. */
const OWNED = new Set(['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers']);

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `scheme://host[:port]` → its parts; the port absent means the scheme's default, kept as written. */
function splitOrigin(origin: string): { scheme: string; host: string; port: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/:]+)(?::([0-9]{1,5}))?$/.exec(origin.toLowerCase());
  return m === null ? undefined : { scheme: m[1], host: m[2], port: m[3] ?? '' };
}

/**
 * Compiles the filter's config. allowOrigins entries match an Origin exactly (scheme, host and port;
 * case-insensitive), `*` any origin, and `scheme://*.example.com` any subdomain of example.com (one
 * or more labels, never example.com itself) with that scheme and port.
 */
export function compileCors(config: HTTPCORSFilter): CompiledCors {
  const anyOrigin = config.allowOrigins.includes('*');
  const exact = new Set<string>();
  const wildcards: { scheme: string; suffix: string; port: string }[] = [];
  for (const o of config.allowOrigins) {
    if (o === '*') continue;
    const parts = splitOrigin(o);
    if (parts === undefined) continue;
    if (parts.host.startsWith('*.')) wildcards.push({ scheme: parts.scheme, suffix: parts.host.slice(1), port: parts.port });
    else exact.add(o.toLowerCase());
  }
  const creds = config.allowCredentials;
  const anyMethod = config.allowMethods.includes('*');
  const anyHeader = config.allowHeaders.includes('*');
  const anyExpose = config.exposeHeaders.includes('*');
  const methods = config.allowMethods.join(', ');
  const allowHeaders = config.allowHeaders.join(', ');
  const expose = config.exposeHeaders.join(', ');
  const maxAge = String(config.maxAge);

  const allows = (origin: string): boolean => {
    if (anyOrigin) return true;
    const o = origin.toLowerCase();
    if (exact.has(o)) return true;
    if (wildcards.length === 0) return false;
    const parts = splitOrigin(o);
    if (parts === undefined) return false;
    return wildcards.some((w) => w.scheme === parts.scheme && w.port === parts.port && parts.host.endsWith(w.suffix) && parts.host.length > w.suffix.length);
  };
  // `*` may answer only a request without credentials (Fetch §3.2.5): with allowCredentials the
  // request's own origin, method and headers are echoed instead.
  const allowOrigin = (origin: string): string => (anyOrigin && !creds ? '*' : origin);

  return {
    allows,
    isPreflight(method, headers) {
      return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
    },
    preflight(headers) {
      const origin = single(headers, 'origin') ?? '';
      if (!allows(origin)) return {};
      const out: Record<string, string> = { 'access-control-allow-origin': allowOrigin(origin) };
      if (out['access-control-allow-origin'] !== '*') out.vary = 'Origin';
      if (creds) out['access-control-allow-credentials'] = 'true';
      if (anyMethod) out['access-control-allow-methods'] = creds ? (single(headers, 'access-control-request-method') ?? '*') : '*';
      else if (methods !== '') out['access-control-allow-methods'] = methods;
      if (anyHeader) {
        const asked = single(headers, 'access-control-request-headers');
        if (!creds) out['access-control-allow-headers'] = '*';
        else if (asked !== undefined && asked !== '') out['access-control-allow-headers'] = asked;
      } else if (allowHeaders !== '') out['access-control-allow-headers'] = allowHeaders;
      out['access-control-max-age'] = maxAge;
      return out;
    },
    response(headers) {
      const origin = single(headers, 'origin');
      if (origin === undefined || !allows(origin)) return undefined;
      const acao = allowOrigin(origin);
      return (fields) => {
        const out: string[] = [];
        const names: string[] = [];
        for (let i = 0; i < fields.length; i += 2) {
          if (OWNED.has(fields[i])) continue;
          out.push(fields[i], fields[i + 1]);
          names.push(fields[i]);
        }
        out.push('access-control-allow-origin', acao);
        if (acao !== '*') out.push('vary', 'Origin');
        if (creds) out.push('access-control-allow-credentials', 'true');
        // With credentials `*` would be read literally (Fetch §3.2.5): name the response's own fields.
        if (anyExpose && !creds) out.push('access-control-expose-headers', '*');
        else if (anyExpose && names.length > 0) out.push('access-control-expose-headers', names.join(', '));
        else if (expose !== '') out.push('access-control-expose-headers', expose);
        return out;
      };
    },
  };
}
