// Gateway API RequestRedirect: the client sidecar answers with a redirect itself and the backend is
// never called. The Location follows the filter's fields and the specification's defaults.

import type { HTTPRequestRedirect } from '../../../config/kinds/http-route.ts';
import { modifyPath } from '../url-rewrite/path-modifier.ts';

/** What the Location is built from: the request as the client addressed it. */
export interface RedirectRequest {
  /** Always "http" between an app and its sidecar. */
  readonly scheme: 'http' | 'https';
  /** The Host the client sent, without its port. */
  readonly hostname: string;
  /** The Service port the request addressed (the mesh's stand-in for a Gateway listener port). */
  readonly port: number;
  /** Origin-form target, query included. */
  readonly target: string;
}

const WELL_KNOWN_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/**
 * The Location header value. Defaults (Gateway API HTTPRequestRedirectFilter): scheme and hostname
 * of the request; port: the scheme's well-known port when a scheme is set, else the port the request
 * addressed; path and query unchanged unless `path` modifies the path (`prefix` is the PathPrefix
 * that matched, for ReplacePrefixMatch). The port is left out when it is the scheme's well-known one.
 */
export function redirectLocation(redirect: HTTPRequestRedirect, req: RedirectRequest, prefix: string | undefined): string {
  const scheme = redirect.scheme ?? req.scheme;
  const hostname = redirect.hostname ?? req.hostname;
  const port = redirect.port ?? (redirect.scheme !== undefined ? WELL_KNOWN_PORTS[redirect.scheme] : req.port);
  const target = redirect.path ? modifyPath(req.target, redirect.path, prefix) : req.target;
  const authority = port === WELL_KNOWN_PORTS[scheme] ? hostname : `${hostname}:${port}`;
  return `${scheme}://${authority}${target}`;
}
