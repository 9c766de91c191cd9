// Assembly of the inbound filter chain for one snapshot: jwt-authn (the service's
// RequestAuthentications), then authz (its AuthorizationPolicies and MeshConfig's default action),
// then rate-limit (its inbound RateLimitPolicies: a refused caller takes no token).

import type { ServiceSnapshot } from '../../config/snapshot-types.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Counter } from '../../lib/metrics.ts';
import { createLogger } from '../../lib/log.ts';
import type { InboundFilter } from './inbound-filter.ts';
import { createJwtAuthnFilter, jwksUris, parseJwtAuthnConfig } from './jwt-authn/jwt-authn-filter.ts';
import type { JwksCache } from './jwt-authn/jwks-cache.ts';
import { createAuthorizer, createAuthzFilter } from './authz/authz-filter.ts';
import { createRateLimitFilter } from './rate-limit/rate-limit-filter.ts';
import type { PolicyLimiter } from './rate-limit/policy-limiter.ts';

const log = createLogger('authz');

export interface InboundChainOptions {
  /** The sidecar's own service in the snapshot; undefined before it is registered. */
  readonly own: ServiceSnapshot | undefined;
  /** MeshConfig `authorization.defaultAction: DENY`. */
  readonly defaultDeny: boolean;
  readonly jwks: JwksCache;
  /** `weft_proxy_authz_audit_total{policy, decision}`. */
  readonly audits?: Counter;
  readonly clock?: Clock;
  /** The inbound RateLimitPolicies in force (rate-limits.ts); undefined: none. */
  readonly rateLimits?: readonly PolicyLimiter[];
}

/** The filters for this snapshot, undefined when none applies (the handler then skips the chain). */
export function createInboundChain(o: InboundChainOptions): readonly InboundFilter[] | undefined {
  o.jwks.retain(jwksUris(o.own?.requestAuthentication));
  const filters: InboundFilter[] = [];
  const jwt = parseJwtAuthnConfig(o.own?.requestAuthentication, o.jwks);
  if (jwt) filters.push(createJwtAuthnFilter(jwt, o.clock));
  const authorizer = createAuthorizer(o.own?.authorization, o.defaultDeny);
  if (authorizer) {
    filters.push(createAuthzFilter(authorizer, (policy, r, denied) => {
      const decision = denied ? 'denied' : 'allowed';
      o.audits?.inc({ policy, decision });
      // Istio's AUDIT marks a request for an audit log; here it is one log line (no token, no headers).
      log.info('audit', { policy, decision, method: r.method, path: r.path, source: r.peer ?? 'plaintext', principal: r.auth?.principal ?? '' });
    }));
  }
  if (o.rateLimits) filters.push(createRateLimitFilter(o.rateLimits));
  return filters.length ? filters : undefined;
}
