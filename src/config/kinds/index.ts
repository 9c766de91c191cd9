// The registry of resource kinds: the API resolves URL plurals with it, the CLI resolves what a user
// types (`weft get svc`), and validateResource finds the one validator for a document's kind.

import type { ResourceType } from '../resource.ts';
import { authorizationPolicyType } from './authorization-policy.ts';
import { backendPolicyType } from './backend-policy.ts';
import { faultInjectionType } from './fault-injection.ts';
import { grpcRouteType } from './grpc-route.ts';
import { httpRouteType } from './http-route.ts';
import { meshConfigType } from './mesh-config.ts';
import { referenceGrantType } from './reference-grant.ts';
import { requestAuthenticationType } from './request-authentication.ts';
import { serviceType } from './service.ts';
import { tcpRouteType } from './tcp-route.ts';
import { rateLimitPolicyType } from './rate-limit-policy.ts';

export const resourceTypes: readonly ResourceType[] = [backendPolicyType, serviceType, httpRouteType, grpcRouteType, meshConfigType, authorizationPolicyType, requestAuthenticationType, referenceGrantType, faultInjectionType, tcpRouteType, rateLimitPolicyType];

/** By kind, plural or alias, ignoring case: `HTTPRoute`, `httproutes`, `route`, `SVC`. */
export function findResourceType(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return resourceTypes.find((t) => t.kind.toLowerCase() === n || t.plural === n || t.aliases.includes(n));
}

/** By exact kind, as written in a document's `kind` field (Kubernetes kinds are case-sensitive). */
export function resourceTypeForKind(kind: string): ResourceType | undefined {
  return resourceTypes.find((t) => t.kind === kind);
}
