// The mesh's vocabulary, part 3: ProxySnapshot, the one value the control plane sends a proxy and
// the proxy runs on. Plain JSON, immutable once built; both sides import only these types.

import type { ObservabilitySnapshot } from './kinds/mesh-config-observability.ts';
import type { HealthStatus, ServiceProtocol } from './catalog-types.ts';
import type { BackendPolicySpec } from './kinds/backend-policy.ts';
import type { AuthorizationAction, AuthorizationRule } from './kinds/authorization-policy.ts';
import type { HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRetry, HTTPRouteTimeouts } from './kinds/http-route.ts';
import type { GRPCRouteFilter, GRPCRouteMatch } from './kinds/grpc-route.ts';
import type { FaultInjectionSpec } from './kinds/fault-injection.ts';
import type { RequestMirror } from './kinds/route-common.ts';
import type { JwtRule } from './kinds/request-authentication.ts';
import type { RateLimitPolicySpec } from './kinds/rate-limit-policy.ts';

export interface NodeInfo {
  /** Unique per proxy process, e.g. `catalog-7f3a`. */
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Services this proxy calls; empty means every service in the mesh. */
  readonly upstreams: readonly string[];
  readonly weftVersion: string;
  /** `host:port` of the sidecar's admin listener (its /metrics), for Prometheus service discovery; absent from older sidecars. */
  readonly adminAddress?: string;
}

export interface EndpointSnapshot {
  /** Instance id; stable across snapshots so balancer state (active requests) carries over. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly health: HealthStatus;
  readonly labels: Readonly<Record<string, string>>;
  /** The SPIFFE ID the endpoint's sidecar proves in mutual TLS; absent: plaintext (no sidecar, or mTLS off). */
  readonly identity?: string;
}

export interface ServicePortSnapshot {
  readonly name: string;
  readonly port: number;
  readonly protocol: ServiceProtocol;
  readonly endpoints: readonly EndpointSnapshot[];
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly namespace: string;
  readonly ports: readonly ServicePortSnapshot[];
  /** The BackendPolicy in force (defaults filled in when none targets the service). */
  readonly policy: BackendPolicySpec;
  /** AuthorizationPolicies targeting the service, oldest first; the service's own sidecars enforce them. Absent: none. */
  readonly authorization?: readonly AuthorizationSnapshot[];
  /**
   * The HTTPRoutes and GRPCRoutes that govern this proxy's calls to the service (GAMMA: producer
   * routes, or the consumer routes of the proxy's namespace, which replace them), in the Gateway
   * API's route order (oldest first, then namespace/name). Absent: none; calls are balanced over
   * the service's endpoints as they are.
   */
  readonly routes?: readonly RouteSnapshot[];
  /**
   * The TCPRoutes that govern this proxy's TCP connections to the service (the same GAMMA attachment
   * as `routes`), oldest first. Absent: connections are balanced over the service's own endpoints.
   */
  readonly tcpRoutes?: readonly TcpRouteSnapshot[];
  /** MeshConfig `authorization.defaultAction: DENY`: with no ALLOW policy, the service takes no request. Absent: ALLOW. */
  readonly authorizationDefault?: 'DENY';
  /** RequestAuthentications targeting the service, oldest first; its own sidecars verify the JWTs. Absent: none. */
  readonly requestAuthentication?: readonly RequestAuthenticationSnapshot[];
  /** RateLimitPolicies targeting the service, oldest first: inbound ones its own sidecars enforce, outbound ones its callers'. Absent: none. */
  readonly rateLimits?: readonly RateLimitSnapshot[];
}

/** A RateLimitPolicy as a proxy runs it: its limits, without targetRefs. */
export interface RateLimitSnapshot extends Omit<RateLimitPolicySpec, 'targetRefs'> {
  /** `namespace/name` of the RateLimitPolicy: the metrics' `policy` label and the 429's RateLimit-Policy name. */
  readonly name: string;
  /** `namespace/name` of the HTTPRoute or GRPCRoute it targets: it limits only what that route matched. Absent: the whole Service. */
  readonly route?: string;
}

export interface RequestAuthenticationSnapshot {
  /** `namespace/name` of the RequestAuthentication. */
  readonly name: string;
  readonly jwtRules: readonly JwtRule[];
}

/** One route attached to a service (Gateway API, mesh semantics), resolved for one proxy. */
export interface RouteSnapshot {
  /** `namespace/name` of the route: the metrics' `route` label and the reasons name it. */
  readonly name: string;
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  /** The parentRef's Service port: the route governs only that port. Absent: every port. */
  readonly port?: number;
  readonly rules: readonly RouteRuleSnapshot[];
}

/** One TCPRoute attached to a service, resolved for one proxy: the split its connections follow. */
export interface TcpRouteSnapshot {
  /** `namespace/name` of the TCPRoute. */
  readonly name: string;
  /** The parentRef's Service port: the route governs only that port. Absent: every port. */
  readonly port?: number;
  /** The first rule's `name`, or `0` (its index): a connection has nothing to match, so the first rule governs. */
  readonly rule: string;
  /** The first rule's backendRefs, resolved as an HTTPRoute's are; each connection picks one by weight. */
  readonly backends: readonly RouteBackendSnapshot[];
}

export interface RouteRuleSnapshot {
  /** The rule's `name`, or its index as a string: the metrics' `rule` label. */
  readonly name: string;
  /** HTTPRoute matches (any one matches); never empty. */
  readonly matches?: readonly HTTPRouteMatch[];
  /** GRPCRoute matches (any one matches); never empty. */
  readonly grpcMatches?: readonly GRPCRouteMatch[];
  /** Applied in order. ExtensionRef filters arrive resolved (FaultInjection) or marked unresolved. */
  readonly filters: readonly SnapshotRouteFilter[];
  readonly backends: readonly RouteBackendSnapshot[];
  readonly timeouts?: HTTPRouteTimeouts;
  /** HTTPRoute rule `retry` as written (validated). */
  readonly retry?: HTTPRouteRetry;
}

/**
 * A rule filter as a proxy runs it: the route's own filters, with each ExtensionRef replaced by the
 * resource it names (weft's FaultInjection), or marked unresolved — then the rule's requests get 500,
 * as the Gateway API asks ("MUST NOT be skipped").
 */
export type SnapshotRouteFilter =
  | Exclude<HTTPRouteFilter | GRPCRouteFilter, { type: 'ExtensionRef' | 'RequestMirror' }>
  /** RequestMirror with its backendRef resolved as a backend is (namespace, ReferenceGrant, existence). */
  | { readonly type: 'RequestMirror'; readonly requestMirror: RequestMirror; readonly backend: RouteBackendSnapshot }
  | { readonly type: 'FaultInjection'; readonly faultInjection: FaultInjectionSpec; readonly ref: string }
  | { readonly type: 'UnresolvedExtensionRef'; readonly ref: string };

/**
 * A backendRef resolved by the control plane: a Service of this snapshot (name, namespace, port),
 * or why its share of requests gets 500 (Gateway API ResolvedRefs reasons).
 */
export interface RouteBackendSnapshot {
  readonly weight: number;
  readonly service?: { readonly name: string; readonly namespace: string; readonly port?: number };
  readonly unresolved?: 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind';
  /** `kind/namespace/name` as written, for the 500's message. */
  readonly ref: string;
}

export interface AuthorizationSnapshot {
  /** `namespace/name` of the AuthorizationPolicy, named in the 403 it causes. */
  readonly name: string;
  readonly action: AuthorizationAction;
  readonly rules: readonly AuthorizationRule[];
}

/**
 * MeshConfig `mtls.mode`: STRICT inbound listeners refuse plaintext; PERMISSIVE (the default) they
 * accept both; DISABLE: no sidecar starts mutual TLS (endpoints carry no identity).
 */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export const MTLS_MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];

export interface ProxySnapshot {
  /** Whether hosts outside the mesh may be called through the outbound listener (MeshConfig). */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Absent means PERMISSIVE (a control plane older than mTLS). */
  readonly mtlsMode?: MtlsMode;
  /** Opaque, increases with every change for this proxy's node key. */
  readonly version: string;
  /** Hash of the content; equal hashes mean equal snapshots. */
  readonly hash: string;
  readonly services: readonly ServiceSnapshot[];
  /** MeshConfig accessLog and tracing; absent: no access log, no spans. */
  readonly observability?: ObservabilitySnapshot;
}

export const EMPTY_SNAPSHOT: ProxySnapshot = { version: '0', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [] };
