// The Consul-compatible listener (`weft control --consul-listen HOST:PORT`): its own port, since
// Consul's paths overlap weft's /v1. Authenticates like weft's API (weft admin tokens, sent the
// Consul way), then routes to the agent, catalog, health and status endpoints.

import { http } from '../../lib/node-http.ts';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../lib/clock.ts';
import { isWeftError, WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Registry } from '../../lib/metrics.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Caller } from '../auth/caller.ts';
import { Router } from '../api/router.ts';
import { ConsulAgent } from './agent.ts';
import { addAgentEndpoints } from './agent-endpoints.ts';
import { addCatalogEndpoints } from './catalog-endpoints.ts';
import { sendError, type ConsulContext } from './http.ts';

export interface ConsulServerOptions {
  readonly host: string;
  readonly port: number;
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * weft's authentication of an `Authorization` header value (undefined: none), as the main API
   * does it: the Consul token (X-Consul-Token, `?token=`, or `Authorization: Bearer`) is a weft token.
   */
  readonly authenticate: (authorization: string | undefined, method: string, target: string) => Promise<Caller>;
  readonly random?: () => number;
  /** How often lapsed TTL checks are looked for, ms (default 1000). */
  readonly sweepMs?: number;
  /** The control plane's metrics: requests by method and code, and parked blocking queries. */
  readonly metrics?: Registry;
}

export interface ConsulServer {
  readonly url: string;
  readonly port: number;
  readonly agent: ConsulAgent;
  /** Sets the gauges (before a scrape). */
  updateMetrics(): void;
  close(): Promise<void>;
}

function permissionDenied(message: string): WeftError {
  return new WeftError('WEFT_ERR_CONSUL_PERMISSION_DENIED', `Permission denied: ${message}`, 403);
}

/**
 * Who may do what on the Consul listener, in Consul's words (403, plain text): a weft admin token
 * may do everything, a read-only one may read (GET); with --insecure anyone may. Join tokens and
 * proxy certificates are for sidecars, not for this API. A token weft does not know is `ACL not found`.
 */
export async function authorizeConsul(options: Pick<ConsulServerOptions, 'authenticate'>, headers: Record<string, string | string[] | undefined>, method: string, url: URL): Promise<void> {
  const consulToken = (headers['x-consul-token'] as string | undefined) || url.searchParams.get('token') || undefined;
  const authorization = consulToken !== undefined ? `Bearer ${consulToken}` : (headers.authorization as string | undefined);
  let caller: Caller;
  try {
    caller = await options.authenticate(authorization, method, url.pathname);
  } catch (err) {
    if (isWeftError(err) && err.status === 401) throw new WeftError('WEFT_ERR_CONSUL_ACL_NOT_FOUND', `ACL not found (${err.message})`, 403);
    throw err;
  }
  switch (caller.kind) {
    case 'insecure':
      return;
    case 'anonymous':
      throw permissionDenied('this weft control plane requires a token: send a weft admin token as X-Consul-Token (CONSUL_HTTP_TOKEN)');
    case 'admin':
      if (caller.role === 'admin' || method === 'GET' || method === 'HEAD') return;
      throw permissionDenied(`a read-only token may only read, not ${method} ${url.pathname}`);
    default:
      throw permissionDenied(`a ${caller.kind} credential is for weft sidecars; the Consul API takes weft admin tokens`);
  }
}

/** Starts the Consul-compatible listener on the control plane's catalog. */
export async function startConsulServer(options: ConsulServerOptions): Promise<ConsulServer> {
  const agent = new ConsulAgent({ catalog: options.catalog, clock: options.clock, log: options.log, sweepMs: options.sweepMs });
  let address = `${options.host}:${options.port}`;
  const ctx: ConsulContext = { agent, clock: options.clock, log: options.log, random: options.random ?? Math.random, address: () => address };
  const router = new Router();
  addAgentEndpoints(router, ctx);
  addCatalogEndpoints(router, ctx);

  const requests = options.metrics?.counter('weft_control_consul_requests_total', 'Consul-compatible API requests by method and status code.', ['method', 'code']);
  const blocking = options.metrics?.gauge('weft_control_consul_blocking_queries', 'Consul blocking queries waiting for a change.');
  const server = http.createServer(async (req, res) => {
    if (requests) res.on('finish', () => requests.inc({ method: req.method ?? '', code: String(res.statusCode) }));
    try {
      const url = new URL(req.url ?? '/', 'http://consul');
      const method = req.method ?? 'GET';
      await authorizeConsul(options, req.headers, method, url);
      const match = router.match(method, url.pathname);
      if (match === 'method') throw new WeftError('WEFT_ERR_CONSUL_METHOD', `method ${method} not allowed`, 405);
      if (!match) throw new WeftError('WEFT_ERR_CONSUL_NOT_FOUND', `Invalid URL path: not a recognized HTTP API endpoint (weft serves a subset of Consul's API: see docs/concepts/consul-compatibility.md)`, 404);
      await match.handler(req, res, match.params, url);
    } catch (err) {
      sendError(res, err, options.log);
    }
  });
  // Blocking queries hold a request up to 10 min and a jitter: no request timeout here.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    agent.close();
    throw new WeftError('WEFT_ERR_CONSUL_LISTEN', `cannot listen on ${options.host}:${options.port} for the Consul API: ${(err as Error).message}`, 500);
  }
  const port = (server.address() as AddressInfo).port;
  address = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const url = `http://${address}`;
  options.log.info('consul api listening', { url });
  return {
    url,
    port,
    agent,
    updateMetrics: () => blocking?.set({}, agent.index.waiting),
    async close() {
      agent.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
