// Validation of an instance registration (POST /v1/catalog/instances): the same field-path errors
// as resources, with defaults filled (namespace, weight, TTL, checks (health-check.ts), the `app` label).

import type { HealthCheckSpec, InstancePort, InstanceRegistration, ServiceProtocol } from './catalog-types.ts';
import type { ValidationResult } from './resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from './validate.ts';
import { DEFAULT_NAMESPACE } from './resource.ts';
import { parseSpiffeId } from './identity.ts';
import { readHealthCheck } from './health-check.ts';

const PROTOCOLS: readonly ServiceProtocol[] = ['http', 'http2', 'grpc', 'tcp'];
const INSTANCE_ID = /^[A-Za-z0-9][-A-Za-z0-9_.:]{0,127}$/;

export const DEFAULT_TTL_SECONDS = 15;
export const DEFAULT_DEREGISTER_AFTER_SECONDS = 60;

export function validateRegistration(raw: unknown): ValidationResult<InstanceRegistration> {
  const c = new Checker();
  const body = c.object(raw, '');
  if (!body) return { ok: false, errors: c.errors };
  c.noUnknown(body, '', ['service', 'namespace', 'id', 'address', 'port', 'ports', 'labels', 'weight', 'ttlSeconds', 'deregisterAfterSeconds', 'checks', 'identity']);

  const service = c.string(body.service, 'service', { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  const namespace = c.string(body.namespace, 'namespace', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }) ?? DEFAULT_NAMESPACE;
  const id = c.string(body.id, 'id', { required: true, pattern: INSTANCE_ID, patternHint: 'letters, digits, -, _, . or : (at most 128)' });
  const address = c.string(body.address, 'address', { required: true, max: 255 });

  const ports: InstancePort[] = [];
  if (body.ports !== undefined) {
    const list = c.array(body.ports, 'ports', { min: 1, max: 64 }) ?? [];
    list.forEach((rawPort, i) => {
      const path = join('ports', i);
      const p = c.object(rawPort, path);
      if (!p) return;
      c.noUnknown(p, path, ['port', 'targetPort', 'name', 'protocol']);
      const port = c.integer(p.port, join(path, 'port'), { required: true, min: 1, max: 65535 });
      const targetPort = c.integer(p.targetPort, join(path, 'targetPort'), { required: true, min: 1, max: 65535 });
      const name = c.string(p.name, join(path, 'name'), { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
      const protocol = c.oneOf(p.protocol, join(path, 'protocol'), PROTOCOLS);
      if (port !== undefined && targetPort !== undefined) ports.push({ port, targetPort, name, protocol });
    });
  } else {
    // Shorthand: `port: 15006` serves service port 80 over HTTP.
    const port = c.integer(body.port, 'port', { required: true, min: 1, max: 65535 });
    if (port !== undefined) ports.push({ port: 80, targetPort: port, name: 'http', protocol: 'http' });
  }

  const labels = c.stringMap(body.labels, 'labels') ?? {};
  const weight = c.integer(body.weight, 'weight', { min: 0, max: 1000 }) ?? 1;
  const ttlSeconds = c.integer(body.ttlSeconds, 'ttlSeconds', { min: 0, max: 3600 }) ?? DEFAULT_TTL_SECONDS;
  const deregisterAfterSeconds = c.integer(body.deregisterAfterSeconds, 'deregisterAfterSeconds', { min: 0, max: 86_400 }) ?? DEFAULT_DEREGISTER_AFTER_SECONDS;

  const checks: HealthCheckSpec[] = [];
  (c.array(body.checks, 'checks', { max: 8 }) ?? []).forEach((rawCheck, i) => {
    const check = readHealthCheck(c, rawCheck, join('checks', i));
    if (check) checks.push(check);
  });

  const identity = c.string(body.identity, 'identity', { max: 2048 });
  if (identity !== undefined) {
    const parsed = parseSpiffeId(identity);
    if (!parsed) c.fail('identity', `must be a SPIFFE ID spiffe://<trust domain>/ns/<namespace>/svc/<service>, got ${JSON.stringify(identity)}`);
    // A sidecar can only claim the identity of the service it registers: callers check exactly that.
    else if (parsed.namespace !== namespace || parsed.service !== service) c.fail('identity', `names service ${parsed.service} in namespace ${parsed.namespace}, but the instance is of ${service} in ${namespace}`);
  }

  if (c.errors.length || !service || !id || !address) return { ok: false, errors: c.errors };
  return {
    ok: true,
    value: {
      service, namespace, id, address, ports,
      // Like a Kubernetes pod, an instance carries `app: SERVICE` so Service selectors can find it.
      labels: { app: service, ...labels },
      weight, ttlSeconds, deregisterAfterSeconds, checks,
      ...(identity !== undefined ? { identity } : {}),
    },
  };
}
