// The mesh's vocabulary, part 3: ProxySnapshot, the one value the control plane sends a proxy and
// the proxy runs on. Plain JSON, immutable once built; both sides import only these types.

import type { HealthStatus, ServiceProtocol } from './catalog-types.ts';
import type { BackendPolicySpec } from './kinds/backend-policy.ts';
import type { AuthorizationAction, AuthorizationRule } from './kinds/authorization-policy.ts';
import type { JwtRule } from './kinds/request-authentication.ts';

export interface NodeInfo {
  /** Unique per proxy process, e.g. `catalog-7f3a`. */
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Services this proxy calls; empty means every service in the mesh. */
  readonly upstreams: readonly string[];
  readonly weftVersion: string;
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
  /** MeshConfig `authorization.defaultAction: DENY`: with no ALLOW policy, the service takes no request. Absent: ALLOW. */
  readonly authorizationDefault?: 'DENY';
  /** RequestAuthentications targeting the service, oldest first; its own sidecars verify the JWTs. Absent: none. */
  readonly requestAuthentication?: readonly RequestAuthenticationSnapshot[];
}

export interface RequestAuthenticationSnapshot {
  /** `namespace/name` of the RequestAuthentication. */
  readonly name: string;
  readonly jwtRules: readonly JwtRule[];
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
}

export const EMPTY_SNAPSHOT: ProxySnapshot = { version: '0', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [] };
