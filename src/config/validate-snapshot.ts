// What a proxy checks before it runs a snapshot: the same field-path errors the API gives, so a
// NACK says exactly what was wrong. A refused snapshot leaves the last good one in force.

import { checkObservabilitySnapshot } from './kinds/mesh-config-observability.ts';
import { MTLS_MODES, type ProxySnapshot } from './snapshot-types.ts';
import type { ValidationResult } from './resource.ts';
import { Checker, join } from './validate.ts';
import { LOAD_BALANCER_ALGORITHMS } from './kinds/backend-policy.ts';
import { checkCircuitBreakerSnapshot } from './kinds/backend-policy-circuit-breaker.ts';
import { readLocality } from './kinds/backend-policy-locality.ts';
import { readAdaptiveConcurrency } from './kinds/backend-policy-adaptive-concurrency.ts';
import { readRetries } from './kinds/backend-policy-retries.ts';
import { readBalancingFields } from './kinds/backend-policy-balancing.ts';
import { readOutlierDetection, readSlowStart } from './kinds/backend-policy-outlier.ts';
import { AUTHORIZATION_ACTIONS, readAuthorizationRules } from './kinds/authorization-policy.ts';
import { readJwtRules } from './kinds/request-authentication.ts';
import { parseSpiffeId } from './identity.ts';
import { readRateLimitSpec } from './kinds/rate-limit-policy.ts';

export const OUTBOUND_TRAFFIC_POLICIES = ['ALLOW_ANY', 'REGISTRY_ONLY'] as const;

export function validateSnapshot(raw: unknown): ValidationResult<ProxySnapshot> {
  const c = new Checker();
  const snap = c.object(raw, 'snapshot');
  if (!snap) return { ok: false, errors: c.errors };
  c.string(snap.version, 'snapshot.version', { required: true });
  c.string(snap.hash, 'snapshot.hash');
  c.oneOf(snap.outboundTrafficPolicy, 'snapshot.outboundTrafficPolicy', OUTBOUND_TRAFFIC_POLICIES, { required: true });
  c.oneOf(snap.mtlsMode, 'snapshot.mtlsMode', MTLS_MODES);
  checkObservabilitySnapshot(c, snap.observability, 'snapshot.observability');
  const services = c.array(snap.services, 'snapshot.services', { required: true }) ?? [];
  services.forEach((rawService, i) => checkServiceSnapshot(c, rawService, join('snapshot.services', i)));
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: raw as ProxySnapshot };
}

/** One ServiceSnapshot at `sp`; shared with the delta validator, whose upserts are whole services. */
export function checkServiceSnapshot(c: Checker, rawService: unknown, sp: string): void {
  const svc = c.object(rawService, sp);
  if (!svc) return;
  c.string(svc.name, join(sp, 'name'), { required: true });
  c.string(svc.namespace, join(sp, 'namespace'), { required: true });
  const policy = c.object(svc.policy, join(sp, 'policy'));
  if (policy) {
    const lb = c.object(policy.loadBalancer, join(sp, 'policy.loadBalancer'));
    if (lb) {
      const algorithm = c.oneOf(lb.algorithm, join(sp, 'policy.loadBalancer.algorithm'), LOAD_BALANCER_ALGORITHMS, { required: true });
      // The API's reader: ring sizes, a prime Maglev table, one source per hashPolicy entry.
      if (algorithm !== undefined) readBalancingFields(c, lb, join(sp, 'policy.loadBalancer'), algorithm);
      // Absent from snapshots of control planes that predate it: the proxy uses the defaults.
      if (lb.locality !== undefined) readLocality(c, lb.locality, join(sp, 'policy.loadBalancer.locality'));
    }
    const t = c.object(policy.timeouts, join(sp, 'policy.timeouts'));
    if (t) {
      for (const k of ['connectMs', 'requestMs', 'idleMs']) c.integer(t[k], join(sp, `policy.timeouts.${k}`), { required: true, min: 0 });
      // Newer fields: a control plane that predates them leaves them out, and the proxy uses their defaults.
      for (const k of ['responseHeaderMs', 'streamIdleMs']) c.integer(t[k], join(sp, `policy.timeouts.${k}`), { min: 0 });
    }
    const r = c.object(policy.retries, join(sp, 'policy.retries'));
    checkCircuitBreakerSnapshot(c, policy.circuitBreaker, join(sp, 'policy.circuitBreaker'));
    readAdaptiveConcurrency(c, policy.adaptiveConcurrency, join(sp, 'policy.adaptiveConcurrency'), true);
    if (r) readRetries(c, r, join(sp, 'policy.retries'), { attemptsRequired: true });
    // The API's own readers; absent sections (an older control plane) mean the defaults.
    readOutlierDetection(c, policy.outlierDetection, join(sp, 'policy.outlierDetection'));
    readSlowStart(c, policy.slowStart, join(sp, 'policy.slowStart'));
  }
  (c.array(svc.authorization, join(sp, 'authorization')) ?? []).forEach((rawPolicy, j) => {
    const ap = join(join(sp, 'authorization'), j);
    const p = c.object(rawPolicy, ap);
    if (!p) return;
    c.string(p.name, join(ap, 'name'), { required: true });
    c.oneOf(p.action, join(ap, 'action'), AUTHORIZATION_ACTIONS, { required: true });
    // The same rule reader the API used: a proxy never runs a rule it cannot understand.
    if (p.rules === undefined) c.fail(join(ap, 'rules'), 'is required');
    else readAuthorizationRules(c, p.rules, join(ap, 'rules'));
  });
  (c.array(svc.tcpRoutes, join(sp, 'tcpRoutes')) ?? []).forEach((rawRoute, j) => {
    const tp = join(join(sp, 'tcpRoutes'), j);
    const route = c.object(rawRoute, tp);
    if (!route) return;
    c.string(route.name, join(tp, 'name'), { required: true });
    c.integer(route.port, join(tp, 'port'), { min: 1, max: 65535 });
    (c.array(route.backends, join(tp, 'backends'), { required: true }) ?? []).forEach((rawBackend, k) => {
      const b = c.object(rawBackend, join(join(tp, 'backends'), k));
      if (b) c.integer(b.weight, join(join(join(tp, 'backends'), k), 'weight'), { required: true, min: 0 });
    });
  });
  if (svc.authorizationDefault !== undefined) c.oneOf(svc.authorizationDefault, join(sp, 'authorizationDefault'), ['DENY']);
  (c.array(svc.requestAuthentication, join(sp, 'requestAuthentication')) ?? []).forEach((rawRa, j) => {
    const rp = join(join(sp, 'requestAuthentication'), j);
    const ra = c.object(rawRa, rp);
    if (!ra) return;
    c.string(ra.name, join(rp, 'name'), { required: true });
    readJwtRules(c, ra.jwtRules, join(rp, 'jwtRules'));
  });
  (c.array(svc.rateLimits, join(sp, 'rateLimits')) ?? []).forEach((rawLimit, j) => {
    const lp = join(join(sp, 'rateLimits'), j);
    const l = c.object(rawLimit, lp);
    if (!l) return;
    c.string(l.name, join(lp, 'name'), { required: true });
    c.string(l.route, join(lp, 'route'));
    // The API's reader: a proxy never runs a limit it would have refused.
    readRateLimitSpec(c, l, lp);
  });
  (c.array(svc.ports, join(sp, 'ports'), { required: true }) ?? []).forEach((rawPort, j) => {
    const pp = join(join(sp, 'ports'), j);
    const port = c.object(rawPort, pp);
    if (!port) return;
    c.integer(port.port, join(pp, 'port'), { required: true, min: 1, max: 65535 });
    c.oneOf(port.protocol, join(pp, 'protocol'), ['http', 'http2', 'grpc', 'tcp'], { required: true });
    (c.array(port.endpoints, join(pp, 'endpoints'), { required: true }) ?? []).forEach((rawEp, k) => {
      const ep = join(join(pp, 'endpoints'), k);
      const e = c.object(rawEp, ep);
      if (!e) return;
      c.string(e.id, join(ep, 'id'), { required: true });
      c.string(e.address, join(ep, 'address'), { required: true });
      c.integer(e.port, join(ep, 'port'), { required: true, min: 1, max: 65535 });
      c.integer(e.weight, join(ep, 'weight'), { required: true, min: 0 });
      c.oneOf(e.health, join(ep, 'health'), ['passing', 'warning', 'critical'], { required: true });
      if (e.identity !== undefined && (typeof e.identity !== 'string' || !parseSpiffeId(e.identity))) {
        c.fail(join(ep, 'identity'), `must be a SPIFFE ID spiffe://<trust domain>/ns/<namespace>/svc/<service>, got ${JSON.stringify(e.identity)}`);
      }
    });
  });
}
