// The inbound filter chain: between the listener's mTLS peer identity and the local app, each filter
// (jwt-authn, then authz) reads one request's facts, adds to them (the JWT's principal and claims,
// header edits for the app) or answers early with a local reply. Built once per snapshot.

import type { IncomingHttpHeaders } from 'node:http';
import type { LocalReplyReason } from '../http/local-reply.ts';

/** What the inbound side knows about one request; filters fill `auth` and `headerEdits`. */
export interface InboundRequest {
  readonly method: string;
  /** The normalized path policies judge (no query; see authorizationPath). */
  readonly path: string;
  /** The request target as received; a filter may replace it (a token query parameter removed). */
  target: string;
  readonly headers: IncomingHttpHeaders;
  /** The SPIFFE ID the caller proved in mutual TLS; undefined for a plaintext caller. */
  readonly peer: string | undefined;
  /** The app's port this sidecar serves (AuthorizationPolicy `ports`). */
  readonly port: number;
  /** Set by jwt-authn when a token was verified. */
  auth: VerifiedJwt | undefined;
  /** Header changes for the request to the app: a value sets the field, undefined removes it. */
  headerEdits: Record<string, string | undefined> | undefined;
}

export interface VerifiedJwt {
  /** `iss/sub`, Istio's request principal. */
  readonly principal: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** A local reply a filter answers with instead of passing the request on. */
export interface FilterReply {
  readonly status: number;
  readonly reason: LocalReplyReason;
  readonly message: string;
  /** Extra response fields, e.g. `www-authenticate` for a 401. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Undefined: pass on. A promise only when the filter has to wait (a JWT signature, the first JWKS). */
export type FilterResult = FilterReply | undefined | Promise<FilterReply | undefined>;

export interface InboundFilter {
  readonly name: string;
  run(req: InboundRequest): FilterResult;
}

export function createInboundRequest(method: string, path: string, target: string, headers: IncomingHttpHeaders, peer: string | undefined, port: number): InboundRequest {
  return { method, path, target, headers, peer, port, auth: undefined, headerEdits: undefined };
}

/** Runs filters in order; synchronous until one of them returns a promise. */
export function runInboundFilters(filters: readonly InboundFilter[], req: InboundRequest, from = 0): FilterResult {
  for (let i = from; i < filters.length; i++) {
    const r = filters[i]!.run(req);
    if (r instanceof Promise) return r.then((reply) => (reply !== undefined ? reply : runInboundFilters(filters, req, i + 1)));
    if (r !== undefined) return r;
  }
  return undefined;
}
