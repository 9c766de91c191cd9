import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../../config/catalog-types.ts';
import { consulPort, decodeServiceDefinition, derivedChecks, NEVER_DEREGISTER_SECONDS, tagsAndMeta } from './mapping.ts';

const code = (c: string) => ({ code: c });

test('a Consul service definition maps onto a weft registration in namespace default', () => {
  const { registration: r, checks } = decodeServiceDefinition(
    {
      ID: 'web-1',
      Name: 'web',
      Tags: ['v1', 'primary'],
      Address: '10.0.0.5',
      Port: 8080,
      Meta: { version: '1.2.3' },
      Weights: { Passing: 3, Warning: 1 },
      Check: { TTL: '15s', DeregisterCriticalServiceAfter: '90s', Notes: 'heartbeat' },
    },
    '192.0.2.1',
  );
  assert.equal(r.namespace, 'default');
  assert.equal(r.service, 'web');
  assert.equal(r.id, 'web-1');
  assert.equal(r.address, '10.0.0.5');
  assert.deepEqual(r.ports, [{ port: 8080, targetPort: 8080, name: undefined, protocol: undefined }]);
  assert.deepEqual(r.labels, { app: 'web', 'meta.consul.weft.dev/version': '1.2.3', tags: 'v1,primary' });
  assert.equal(r.weight, 3);
  assert.equal(r.ttlSeconds, 15);
  assert.equal(r.deregisterAfterSeconds, 90);
  assert.deepEqual(r.checks, []);
  assert.equal(checks.length, 1);
  assert.deepEqual({ ...checks[0] }, { id: 'service:web-1', name: "Service 'web' check", notes: 'heartbeat', initialStatus: 'critical', initialOutput: '', type: 'ttl', ttlMs: 15_000 });
  // And back: what Consul clients read.
  assert.deepEqual(tagsAndMeta(r.labels), { tags: ['v1', 'primary'], meta: { version: '1.2.3' } });
  assert.equal(consulPort(r), 8080);
});

test('defaults: ID is the Name, the address is the client\'s, no port means none, no deregister time means never', () => {
  const { registration: r, checks } = decodeServiceDefinition({ Name: 'worker' }, '192.0.2.7');
  assert.equal(r.id, 'worker');
  assert.equal(r.address, '192.0.2.7');
  assert.deepEqual(r.ports, []);
  assert.equal(consulPort(r), 0);
  assert.equal(r.ttlSeconds, 0);
  assert.equal(r.deregisterAfterSeconds, NEVER_DEREGISTER_SECONDS);
  assert.deepEqual(checks, []);
});

test('field names match as Go matches them: any case, and snake_case aliases', () => {
  const { registration: r, checks } = decodeServiceDefinition({ name: 'api', id: 'api-2', port: 9000, check: { ttl: '5s', deregister_critical_service_after: '2m', status: 'passing' } }, '127.0.0.1');
  assert.equal(r.id, 'api-2');
  assert.equal(r.deregisterAfterSeconds, 120);
  assert.equal(checks[0]!.initialStatus, 'passing');
});

test('several checks: IDs service:<ID>:<n>, HTTP and TCP become weft active checks with thresholds', () => {
  const { registration: r, checks } = decodeServiceDefinition(
    {
      Name: 'shop',
      ID: 'shop-a',
      Port: 80,
      Check: { TTL: '10s' },
      Checks: [
        { HTTP: 'http://127.0.0.1:8081/health?deep=1', Interval: '5s', Timeout: '2s', SuccessBeforePassing: 2, FailuresBeforeCritical: 3 },
        { CheckID: 'db-port', Name: 'db', TCP: 'db.internal:5432', Interval: '1500ms' },
      ],
    },
    '127.0.0.1',
  );
  assert.deepEqual(checks.map((c) => c.id), ['service:shop-a:1', 'service:shop-a:2', 'db-port']);
  assert.deepEqual(checks.map((c) => c.type), ['ttl', 'http', 'tcp']);
  assert.deepEqual(
    r.checks.map((c) => [c.type, c.host, c.port, c.path, c.intervalMs, c.timeoutMs, c.unhealthyThreshold, c.healthyThreshold, c.checkedBy]),
    [
      ['http', '127.0.0.1', 8081, '/health?deep=1', 5000, 2000, 3, 2, 'control-plane'],
      ['tcp', 'db.internal', 5432, undefined, 1500, 10_000, 1, 1, 'control-plane'],
    ],
  );
  assert.equal(checks[1]!.activeIndex, 0);
  assert.equal(checks[2]!.activeIndex, 1);
  assert.equal(r.ttlSeconds, 10);
});

test('a gRPC check: host:port/service becomes a weft grpc check with that service name', () => {
  const { registration: r, checks } = decodeServiceDefinition({ Name: 'rpc', Port: 50051, Check: { GRPC: '127.0.0.1:50051/pkg.Svc', Interval: '2s' } }, '127.0.0.1');
  assert.deepEqual([r.checks[0]!.type, r.checks[0]!.port, r.checks[0]!.serviceName], ['grpc', 50051, 'pkg.Svc']);
  assert.equal(checks[0]!.target, '127.0.0.1:50051/pkg.Svc');
  assert.equal(decodeServiceDefinition({ Name: 'rpc', Check: { GRPC: 'h:1', Interval: '2s' } }, '127.0.0.1').registration.checks[0]!.serviceName, '');
});

test('a long tag list is kept whole (no 63-character label limit on it)', () => {
  const tags = Array.from({ length: 20 }, (_, i) => `traefik.http.routers.r${i}.rule=Host(x)`);
  const { registration: r } = decodeServiceDefinition({ Name: 'edge', Tags: tags }, '127.0.0.1');
  assert.deepEqual(tagsAndMeta(r.labels).tags, tags);
});

test('unknown fields are ignored, as Consul\'s decoder ignores them', () => {
  const { registration: r } = decodeServiceDefinition({ Name: 'x', Port: 1, NotAField: [1, 2], EnableTagOverride: true, TaggedAddresses: { lan: { Address: '10.0.0.1', Port: 1 } }, Check: { TTL: '1s', Whatever: 'yes' } }, '127.0.0.1');
  assert.equal(r.service, 'x');
});

test('what Consul refuses is refused with its words; what weft cannot honour is refused by name', () => {
  const cases: [unknown, string, RegExp][] = [
    [undefined, 'WEFT_ERR_CONSUL_DECODE', /Request decode failed/],
    [[1], 'WEFT_ERR_CONSUL_DECODE', /expected an object/],
    [{ Name: 'x', Port: '80' }, 'WEFT_ERR_CONSUL_DECODE', /Port of type int/],
    [{ Name: 'x', Meta: { a: 1 } }, 'WEFT_ERR_CONSUL_DECODE', /Meta\.a of type string/],
    [{ Name: 'x', Check: { TTL: '0s' } }, 'WEFT_ERR_CONSUL_INVALID', /TTL must be > 0/],
    [{ Port: 1 }, 'WEFT_ERR_CONSUL_INVALID', /^Missing service name$/],
    [{ Name: 'x', Address: '::' }, 'WEFT_ERR_CONSUL_INVALID', /^Invalid service address$/],
    [{ Name: 'x', Port: 70000 }, 'WEFT_ERR_CONSUL_INVALID', /Invalid service port/],
    [{ Name: 'x', Check: { TTL: '1s', HTTP: 'http://a/', Interval: '1s' } }, 'WEFT_ERR_CONSUL_INVALID', /exactly one of/],
    [{ Name: 'x', Check: { TCP: 'nohost' , Interval: '1s' } }, 'WEFT_ERR_CONSUL_INVALID', /host:port/],
    [{ Name: 'x', Checks: [{ TTL: '1s', CheckID: 'a' }, { TTL: '2s', CheckID: 'a' }] }, 'WEFT_ERR_CONSUL_INVALID', /used twice/],
    [{ Name: 'x', Tags: ['a,b'] }, 'WEFT_ERR_CONSUL_INVALID', /Tags\[0\] "a,b"/],
    [{ Name: 'x', Tags: ['ok', ''] }, 'WEFT_ERR_CONSUL_INVALID', /Tags\[1\]/],
    [{ Name: 'x', Meta: { k: 'v'.repeat(64) } }, 'WEFT_ERR_CONSUL_INVALID', /Meta\.k/],
    [{ Name: 'x', ID: 'has space' }, 'WEFT_ERR_CONSUL_INVALID', /^ID:/],
    [{ Name: 'x', Weights: { Passing: 5000 } }, 'WEFT_ERR_CONSUL_INVALID', /Weights\.Passing/],
    [{ Name: 'UPPER' }, 'WEFT_ERR_CONSUL_INVALID', /DNS labels/],
    [{ Name: 'x', Kind: 'connect-proxy' }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /Kind/],
    [{ Name: 'x', Connect: { SidecarService: {} } }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /Connect/],
    [{ Name: 'x', Check: { GRPC: 'a:1', GRPCUseTLS: true, Interval: '1s' } }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /GRPCUseTLS/],
    [{ Name: 'x', Check: { H2PING: 'a:1', Interval: '1s' } }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /H2PING/],
    [{ Name: 'x', Check: { HTTP: 'https://a/', Interval: '1s' } }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /http:\/\/ only/],
    [{ Name: 'x', Check: { HTTP: 'http://a/', Method: 'POST', Interval: '1s' } }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /GET only/],
    [{ Name: 'x', Namespace: 'team-a' }, 'WEFT_ERR_CONSUL_UNSUPPORTED', /default namespace/],
  ];
  for (const [body, want, text] of cases) {
    assert.throws(() => decodeServiceDefinition(body, '127.0.0.1'), (err: Error & { code: string; status: number }) => {
      assert.equal(err.code, want, `${JSON.stringify(body)}: ${err.message}`);
      assert.equal(err.status, 400);
      assert.match(err.message, text, JSON.stringify(body));
      return true;
    });
  }
});

test('instances registered through weft\'s own API get the checks Consul would name', () => {
  const inst = {
    service: 'reviews', namespace: 'default', id: 'r1', address: '10.1.1.1', ports: [{ port: 80, targetPort: 15006 }], labels: { app: 'reviews', version: 'v2', tags: 'canary,eu' },
    weight: 1, ttlSeconds: 15, deregisterAfterSeconds: 60,
    checks: [{ type: 'http' as const, path: '/healthz', intervalMs: 5000, timeoutMs: 2000, unhealthyThreshold: 1, healthyThreshold: 1 }],
    health: 'passing' as const, healthReason: '', registeredAt: 0, lastHeartbeat: 0, healthSince: 0,
  } satisfies InstanceState;
  const checks = derivedChecks(inst);
  assert.deepEqual(checks.map((c) => [c.id, c.type, c.target]), [['service:r1:1', 'ttl', undefined], ['service:r1:2', 'http', 'http://10.1.1.1:15006/healthz']]);
  assert.equal(consulPort(inst), 15006);
  // Tags as weft's DNS reads them: the `tags` list, then the `version` label.
  assert.deepEqual(tagsAndMeta(inst.labels), { tags: ['canary', 'eu', 'v2'], meta: {} });
});
