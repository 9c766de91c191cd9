// MeshConfig (weft.dev/v1alpha1): mesh-wide settings read by the snapshot builder — what proxies do
// with traffic to unknown hosts, whether sidecars require mutual TLS, the BackendPolicy in force
// for services no policy targets, what a sidecar does with a request no ALLOW policy speaks for,
// and what every sidecar logs and traces (accessLog, tracing).

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import { DEFAULT_BACKEND_POLICY, backendPolicyType, type BackendPolicySpec } from './backend-policy.ts';
import { MTLS_MODES, type MtlsMode } from '../snapshot-types.ts';
import { readAccessLog, readTracing, type AccessLogConfig, type TracingConfig } from './mesh-config-observability.ts';

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';
export const OUTBOUND_TRAFFIC_MODES: readonly OutboundTrafficMode[] = ['ALLOW_ANY', 'REGISTRY_ONLY'];

/** A BackendPolicy spec without targetRefs: it applies to every service that no policy targets. */
export type DefaultBackendPolicy = Omit<BackendPolicySpec, 'targetRefs'>;

/** ALLOW: a service no ALLOW policy targets takes every request (Istio's behaviour); DENY: it takes none (default deny). */
export type AuthorizationDefaultAction = 'ALLOW' | 'DENY';
export const AUTHORIZATION_DEFAULT_ACTIONS: readonly AuthorizationDefaultAction[] = ['ALLOW', 'DENY'];

export interface MeshConfigSpec {
  readonly outboundTrafficPolicy: { readonly mode: OutboundTrafficMode };
  readonly mtls: { readonly mode: MtlsMode };
  readonly defaultBackendPolicy: DefaultBackendPolicy;
  readonly authorization: { readonly defaultAction: AuthorizationDefaultAction };
  /** Per-request JSON access logs of every sidecar (mesh-config-observability.ts); absent: off. */
  readonly accessLog?: AccessLogConfig;
  /** Distributed tracing: head sampling and the OTLP/HTTP endpoint; absent: no spans. */
  readonly tracing?: TracingConfig;
}

function withoutTargetRefs(spec: BackendPolicySpec): DefaultBackendPolicy {
  const { targetRefs: _ignored, ...rest } = spec;
  return rest;
}

export const DEFAULT_MESH_CONFIG: MeshConfigSpec = {
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
  mtls: { mode: 'PERMISSIVE' },
  defaultBackendPolicy: withoutTargetRefs(DEFAULT_BACKEND_POLICY),
  authorization: { defaultAction: 'ALLOW' },
};

// A placeholder target so BackendPolicy's own validator (which requires targetRefs) checks the
// rest: one set of rules and defaults for both kinds, and no copy that can drift.
const PLACEHOLDER_TARGETS = [{ kind: 'Service', name: 'placeholder' }];

/** A `{mode: ...}` setting (outboundTrafficPolicy, mtls): absent → the default; a bad mode is an error. */
function readMode<M extends string>(c: Checker, raw: unknown, path: string, modes: readonly M[], fallback: { readonly mode: M }): { readonly mode: M } {
  if (raw === undefined) return fallback;
  const o = c.object(raw, path);
  if (!o) return fallback;
  c.noUnknown(o, path, ['mode']);
  return { mode: c.oneOf(o.mode, join(path, 'mode'), modes) ?? fallback.mode };
}

function validateSpec(raw: unknown, path: string): ValidationResult<MeshConfigSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['outboundTrafficPolicy', 'mtls', 'defaultBackendPolicy', 'authorization', 'accessLog', 'tracing']);

  const outboundTrafficPolicy = readMode(c, spec.outboundTrafficPolicy, join(path, 'outboundTrafficPolicy'), OUTBOUND_TRAFFIC_MODES, DEFAULT_MESH_CONFIG.outboundTrafficPolicy);
  const mtls = readMode(c, spec.mtls, join(path, 'mtls'), MTLS_MODES, DEFAULT_MESH_CONFIG.mtls);

  let defaultBackendPolicy = DEFAULT_MESH_CONFIG.defaultBackendPolicy;
  if (spec.defaultBackendPolicy !== undefined) {
    const dp = join(path, 'defaultBackendPolicy');
    const d = c.object(spec.defaultBackendPolicy, dp);
    if (d) {
      const { targetRefs, ...rest } = d;
      if (targetRefs !== undefined) c.fail(join(dp, 'targetRefs'), 'unknown field: the mesh default applies to every service no BackendPolicy targets');
      const result = backendPolicyType.validateSpec({ ...rest, targetRefs: PLACEHOLDER_TARGETS }, dp);
      if (result.ok) defaultBackendPolicy = withoutTargetRefs(result.value);
      // BackendPolicy's unknown-field hint lists targetRefs, which is not allowed here.
      else for (const e of result.errors) c.fail(e.path, e.message.replace('targetRefs, ', ''));
    }
  }

  let authorization = DEFAULT_MESH_CONFIG.authorization;
  if (spec.authorization !== undefined) {
    const ap = join(path, 'authorization');
    const a = c.object(spec.authorization, ap);
    if (a) {
      c.noUnknown(a, ap, ['defaultAction']);
      authorization = { defaultAction: c.oneOf(a.defaultAction, join(ap, 'defaultAction'), AUTHORIZATION_DEFAULT_ACTIONS) ?? authorization.defaultAction };
    }
  }

  const accessLog = readAccessLog(c, spec.accessLog, join(path, 'accessLog'));
  const tracing = readTracing(c, spec.tracing, join(path, 'tracing'));

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { outboundTrafficPolicy, mtls, defaultBackendPolicy, authorization, ...(accessLog && { accessLog }), ...(tracing && { tracing }) } };
}

export const meshConfigType: ResourceType<MeshConfigSpec> = {
  kind: 'MeshConfig',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'meshconfigs',
  aliases: ['meshconfig'],
  // Namespaced like every other kind so the API's paths stay uniform; the mesh has one.
  namespaced: true,
  validateSpec,
};
