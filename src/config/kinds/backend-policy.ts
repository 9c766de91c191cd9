// BackendPolicy (weft.dev/v1alpha1): how a proxy talks to the endpoints of the services it targets:
// load-balancing algorithm, timeouts and the connect-failure retry rule.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';

export type LoadBalancerAlgorithm = 'round-robin' | 'random' | 'weighted' | 'least-request';
export const LOAD_BALANCER_ALGORITHMS: readonly LoadBalancerAlgorithm[] = ['round-robin', 'random', 'weighted', 'least-request'];

export interface TargetRef {
  readonly kind: 'Service';
  readonly name: string;
}

export interface BackendPolicySpec {
  readonly targetRefs: readonly TargetRef[];
  readonly loadBalancer: {
    readonly algorithm: LoadBalancerAlgorithm;
    /** least-request: how many endpoints to sample before taking the least loaded. */
    readonly choiceCount: number;
  };
  readonly timeouts: {
    /** Time to open a connection to an endpoint. */
    readonly connectMs: number;
    /** Whole request, first byte sent to last byte received; 0 disables. */
    readonly requestMs: number;
    /** An idle pooled connection is closed after this. */
    readonly idleMs: number;
  };
  readonly retries: {
    /** Extra attempts, each on another endpoint, when the request provably never reached the app. */
    readonly attempts: number;
  };
}

export const DEFAULT_BACKEND_POLICY: BackendPolicySpec = {
  targetRefs: [],
  loadBalancer: { algorithm: 'round-robin', choiceCount: 2 },
  timeouts: { connectMs: 2_000, requestMs: 30_000, idleMs: 60_000 },
  retries: { attempts: 2 },
};

/** The Services a policy attaches to (Gateway API policy attachment): at least one. Shared by every policy kind. */
export function readTargetRefs(c: Checker, raw: unknown, refsPath: string): TargetRef[] {
  const targetRefs: TargetRef[] = [];
  const refs = c.array(raw, refsPath, { required: true, min: 1 }) ?? [];
  refs.forEach((rawRef, i) => {
    const refPath = join(refsPath, i);
    const ref = c.object(rawRef, refPath);
    if (!ref) return;
    c.noUnknown(ref, refPath, ['group', 'kind', 'name']);
    c.oneOf(ref.kind, join(refPath, 'kind'), ['Service'], { required: true });
    const name = c.string(ref.name, join(refPath, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    if (name) targetRefs.push({ kind: 'Service', name });
  });
  return targetRefs;
}

function validateSpec(raw: unknown, path: string): ValidationResult<BackendPolicySpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'loadBalancer', 'timeouts', 'retries']);
  const d = DEFAULT_BACKEND_POLICY;

  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));

  let loadBalancer = d.loadBalancer;
  if (spec.loadBalancer !== undefined) {
    const lbPath = join(path, 'loadBalancer');
    const lb = c.object(spec.loadBalancer, lbPath);
    if (lb) {
      c.noUnknown(lb, lbPath, ['algorithm', 'choiceCount']);
      loadBalancer = {
        algorithm: c.oneOf(lb.algorithm, join(lbPath, 'algorithm'), LOAD_BALANCER_ALGORITHMS) ?? d.loadBalancer.algorithm,
        choiceCount: c.integer(lb.choiceCount, join(lbPath, 'choiceCount'), { min: 2, max: 10 }) ?? d.loadBalancer.choiceCount,
      };
    }
  }

  let timeouts = d.timeouts;
  if (spec.timeouts !== undefined) {
    const tPath = join(path, 'timeouts');
    const t = c.object(spec.timeouts, tPath);
    if (t) {
      c.noUnknown(t, tPath, ['connectMs', 'requestMs', 'idleMs']);
      timeouts = {
        connectMs: c.integer(t.connectMs, join(tPath, 'connectMs'), { min: 1, max: 600_000 }) ?? d.timeouts.connectMs,
        requestMs: c.integer(t.requestMs, join(tPath, 'requestMs'), { min: 0, max: 86_400_000 }) ?? d.timeouts.requestMs,
        idleMs: c.integer(t.idleMs, join(tPath, 'idleMs'), { min: 1, max: 86_400_000 }) ?? d.timeouts.idleMs,
      };
    }
  }

  let retries = d.retries;
  if (spec.retries !== undefined) {
    const rPath = join(path, 'retries');
    const r = c.object(spec.retries, rPath);
    if (r) {
      c.noUnknown(r, rPath, ['attempts']);
      retries = { attempts: c.integer(r.attempts, join(rPath, 'attempts'), { min: 0, max: 10 }) ?? d.retries.attempts };
    }
  }

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { targetRefs, loadBalancer, timeouts, retries } };
}

export const backendPolicyType: ResourceType<BackendPolicySpec> = {
  kind: 'BackendPolicy',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'backendpolicies',
  aliases: ['backendpolicy', 'bp'],
  namespaced: true,
  validateSpec,
};
