// Bar: an app written against Consul's client library (the `consul` npm package, unchanged)
// registers and discovers through `weft control --consul-listen`: a TTL check that passes and then
// lapses, HTTP checks, tag and passing filters, blocking queries woken by a registration, tokens,
// Consul's answers to bad bodies, and a weft sidecar calling a Consul-registered service by name.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { Resolver } from 'node:dns/promises';
import { startControlPlane, startSidecar, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';

let cp: ControlPlaneProcess;
let consulPort: number;
let dnsPort: number;
let consul: Consul;
let client: SidecarProcess;
const echoes: EchoServer[] = [];

interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Tags: string[]; Meta: Record<string, string>; Port: number; Address: string };
  Checks: { CheckID: string; Status: string; Output: string; ServiceID: string }[];
}

before(async () => {
  consulPort = await freePort();
  dnsPort = await freePort();
  cp = await startControlPlane(['--consul-listen', `127.0.0.1:${consulPort}`, '--dns-listen', `127.0.0.1:${dnsPort}`, '--dns-ttl', '0']);
  consul = new Consul({ host: '127.0.0.1', port: consulPort, defaults: { token: cp.adminToken } });
  client = await startSidecar(cp.url, 'client');
});

after(async () => {
  consul?.destroy();
  await stopAll();
  await Promise.all(echoes.map((e) => e.close()));
  await cp?.cleanup();
});

async function echo(name: string): Promise<EchoServer> {
  const e = await startEcho(name);
  echoes.push(e);
  return e;
}

/** A raw request to the Consul listener (status, text body, headers). */
async function raw(method: string, path: string, options: { body?: string; token?: string | null } = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const token = options.token === undefined ? cp.adminToken : options.token;
  const res = await fetch(`http://127.0.0.1:${consulPort}${path}`, { method, body: options.body, headers: token ? { 'x-consul-token': token } : {} });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** consul.agent.service.register: the package's typings ask check fields (name, timeout) that its code and Consul do not. */
function register(options: Record<string, unknown>): Promise<unknown> {
  return consul.agent.service.register(options as never);
}

async function passing(service: string): Promise<HealthEntry[]> {
  return (await consul.health.service({ service, passing: true })) as HealthEntry[];
}

test('a TTL check: critical until the first pass, found through health.service({passing}) after it, gone from it after the TTL lapses', async () => {
  const app = await echo('billing-1');
  await register({
    name: 'billing',
    id: 'billing-1',
    address: '127.0.0.1',
    port: app.port,
    tags: ['v1', 'primary'],
    meta: { team: 'payments' },
    check: { ttl: '3s', notes: 'app heartbeat' },
  });
  // Consul starts checks critical: registered, listed, not passing.
  const all = (await consul.health.service({ service: 'billing' })) as HealthEntry[];
  assert.equal(all.length, 1);
  assert.equal(all[0]!.Checks.find((c) => c.CheckID === 'service:billing-1')?.Status, 'critical');
  assert.deepEqual(await passing('billing'), []);

  await consul.agent.check.pass({ id: 'service:billing-1', note: 'all good' });
  const found = await passing('billing');
  assert.equal(found.length, 1);
  const entry = found[0]!;
  assert.equal(entry.Service.ID, 'billing-1');
  assert.equal(entry.Service.Port, app.port);
  assert.equal(entry.Service.Address, '127.0.0.1');
  assert.deepEqual(entry.Service.Tags, ['v1', 'primary']);
  assert.deepEqual(entry.Service.Meta, { team: 'payments' });
  assert.equal(entry.Checks.find((c) => c.CheckID === 'service:billing-1')?.Output, 'all good');
  // The same instance in weft's catalog, with the mapping the docs describe.
  const inst = await cp.api('GET', '/v1/catalog/instances/default/billing/billing-1');
  assert.equal(inst.body.health, 'passing');
  assert.equal(inst.body.labels.tags, 'v1,primary');
  assert.equal(inst.body.labels['meta.consul.weft.dev/team'], 'payments');
  assert.deepEqual(await consul.catalog.service.list(), { billing: ['v1', 'primary'] });
  // weft's DNS interface reads the same tags: TAG.NAME.service.consul.
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  assert.deepEqual(await resolver.resolve4('primary.billing.service.consul'), ['127.0.0.1']);
  assert.deepEqual((await resolver.resolveSrv('billing.service.consul')).map((r) => r.port), [app.port]);

  // The app stops passing its check: within the TTL (and a generous margin) it leaves the passing list.
  const lapsed = await waitFor('billing-1 out of the passing list', async () => ((await passing('billing')).length === 0 ? true : undefined), 20_000, 200);
  assert.equal(lapsed, true);
  const after = (await consul.health.service({ service: 'billing' })) as HealthEntry[];
  const check = after[0]!.Checks.find((c) => c.CheckID === 'service:billing-1')!;
  assert.equal(check.Status, 'critical');
  assert.match(check.Output, /TTL expired/);
  // weft's catalog (what the mesh routes by) follows within its sweep.
  await waitFor('billing-1 critical in weft', async () => ((await cp.api('GET', '/v1/catalog/instances/default/billing/billing-1')).body.health === 'critical' ? true : undefined), 10_000, 100);

  // warn is not passing either; pass brings it back.
  await consul.agent.check.warn({ id: 'service:billing-1', note: 'degraded' });
  assert.deepEqual(await passing('billing'), []);
  assert.equal(((await consul.health.service({ service: 'billing' })) as HealthEntry[])[0]!.Checks.find((c) => c.CheckID === 'service:billing-1')!.Status, 'warning');
  await consul.agent.check.pass({ id: 'service:billing-1' });
  assert.equal((await passing('billing')).length, 1);

  await consul.agent.service.deregister('billing-1');
  assert.deepEqual(await consul.health.service({ service: 'billing' }), []);
  assert.equal((await cp.api('GET', '/v1/catalog/instances/default/billing/billing-1')).status, 404);
});

test('a blocking query returns when a second instance registers, not before; another service does not wake it', async () => {
  const [a, b] = await Promise.all([echo('orders-1'), echo('orders-2')]);
  await register({ name: 'orders', id: 'orders-1', address: '127.0.0.1', port: a.port });
  const first = await raw('GET', '/v1/health/service/orders');
  assert.equal(JSON.parse(first.text).length, 1);
  const index = Number(first.headers.get('x-consul-index'));
  assert.ok(index > 0, `X-Consul-Index ${first.headers.get('x-consul-index')}`);

  // Nothing changes for orders: the query waits out its 2 s (the jitter adds at most 1/16).
  const t0 = Date.now();
  const quiet = raw('GET', `/v1/health/service/orders?index=${index}&wait=2s`);
  await register({ name: 'unrelated', id: 'unrelated-1', address: '127.0.0.1', port: b.port });
  const q = await quiet;
  assert.equal(q.status, 200);
  assert.ok(Date.now() - t0 >= 1900, `returned after ${Date.now() - t0} ms without a change to orders`);
  assert.equal(Number(q.headers.get('x-consul-index')), index);

  // The client library's watch (blocking queries, wait 60 s): it sees one instance, then, when a
  // second registers, both, long before its wait runs out.
  const changes: string[][] = [];
  const watch = consul.watch({ method: consul.health.service, options: { service: 'orders', wait: '60s' } as never });
  try {
    watch.on('change', (data: HealthEntry[]) => changes.push(data.map((e) => e.Service.ID).sort()));
    watch.on('error', (err: Error) => changes.push([`error: ${err.message}`]));
    await waitFor('the watch sees orders-1', () => (changes.length >= 1 ? true : undefined), 20_000, 50);
    assert.deepEqual(changes, [['orders-1']]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(changes.length, 1, 'the watch changed without a change');
    const t1 = Date.now();
    await register({ name: 'orders', id: 'orders-2', address: '127.0.0.1', port: b.port });
    await waitFor('the watch sees orders-2', () => (changes.length >= 2 ? true : undefined), 30_000, 50);
    assert.ok(Date.now() - t1 < 30_000, `the watch saw the registration after ${Date.now() - t1} ms`);
    assert.deepEqual(changes[1], ['orders-1', 'orders-2']);
  } finally {
    watch.end();
  }
  const last = await raw('GET', '/v1/health/service/orders');
  assert.ok(Number(last.headers.get('x-consul-index')) > index);

  // ?tag filters (Consul ANDs repeated tags).
  await register({ name: 'orders', id: 'orders-2', address: '127.0.0.1', port: b.port, tags: ['canary'] });
  const tagged = (await consul.catalog.service.nodes({ service: 'orders', tag: 'canary' } as never)) as { ServiceID: string }[];
  assert.deepEqual(tagged.map((n) => n.ServiceID), ['orders-2']);
});

test('an HTTP check: passing while the app answers, out of the passing list when its health endpoint fails', async () => {
  const app = await echo('stock-1');
  await register({
    name: 'stock',
    id: 'stock-1',
    address: '127.0.0.1',
    port: app.port,
    check: { http: `http://127.0.0.1:${app.port}/healthz`, interval: '1s', timeout: '1s' },
  });
  await waitFor('stock-1 passing', async () => ((await passing('stock')).length === 1 ? true : undefined), 20_000, 200);
  app.setHealthy(false);
  await waitFor('stock-1 not passing', async () => ((await passing('stock')).length === 0 ? true : undefined), 20_000, 200);
  const check = ((await consul.health.service({ service: 'stock' })) as HealthEntry[])[0]!.Checks.find((c) => c.CheckID === 'service:stock-1')!;
  assert.equal(check.Status, 'critical');
  assert.match(check.Output, /500/);
  // A TTL update on an HTTP check is refused as Consul refuses it.
  await assert.rejects(consul.agent.check.pass({ id: 'service:stock-1' }), /does not have associated TTL/);
  await consul.agent.service.deregister('stock-1');
});

test('a weft client sidecar calls a service registered through the Consul API by name', async () => {
  const app = await echo('ledger-1');
  await register({ name: 'ledger', id: 'ledger-1', address: '127.0.0.1', port: app.port, check: { ttl: '30s', status: 'passing' } });
  const res = await waitFor('ledger reachable through the client sidecar', async () => {
    const r = await getViaProxy(client.outboundPort, 'http://ledger/accounts');
    return r.status === 200 ? r : undefined;
  }, 20_000, 200);
  assert.equal(JSON.parse(res.body).name, 'ledger-1');
  assert.equal(JSON.parse(res.body).url, '/accounts');
  // Failed through Consul: the mesh stops sending to it.
  await consul.agent.check.fail({ id: 'service:ledger-1', note: 'draining' });
  const inst = await cp.api('GET', '/v1/catalog/instances/default/ledger/ledger-1');
  assert.equal(inst.body.health, 'critical');
  assert.match(inst.body.healthReason, /draining/);
  await waitFor('ledger refused once its only instance is critical', async () => ((await getViaProxy(client.outboundPort, 'http://ledger/accounts')).status !== 200 ? true : undefined), 20_000, 200);
});

test('tokens: a weft admin token as X-Consul-Token or ?token=; no token, an unknown token, or a read-only token writing are refused', async () => {
  const body = JSON.stringify({ Name: 'tokens', ID: 'tokens-1', Port: 9 });
  const anonymous = await raw('GET', '/v1/catalog/services', { token: null });
  assert.equal(anonymous.status, 403);
  assert.match(anonymous.text, /^Permission denied/);
  const unknown = await raw('GET', '/v1/catalog/services', { token: 'not-a-token' });
  assert.equal(unknown.status, 403);
  assert.match(unknown.text, /^ACL not found/);
  const viaQuery = await fetch(`http://127.0.0.1:${consulPort}/v1/status/leader?token=${cp.adminToken}`);
  assert.equal(viaQuery.status, 200);
  assert.equal(await viaQuery.json(), `127.0.0.1:${consulPort}`);
  const readOnly = await cp.createAdminToken('read-only');
  assert.equal((await raw('GET', '/v1/agent/services', { token: readOnly })).status, 200);
  const write = await raw('PUT', '/v1/agent/service/register', { token: readOnly, body });
  assert.equal(write.status, 403);
  // A join token is a sidecar's, not an app's.
  assert.equal((await raw('GET', '/v1/catalog/services', { token: await cp.joinToken('tokens') })).status, 403);
  assert.equal((await raw('PUT', '/v1/agent/service/register', { body })).status, 200);
  assert.equal((await raw('PUT', '/v1/agent/service/deregister/tokens-1')).status, 200);
});

test('bodies: unknown fields accepted as Consul accepts them; wrong types, a missing name and unsupported checks refused with 400 and a plain-text reason', async () => {
  const ok = await raw('PUT', '/v1/agent/service/register', { body: JSON.stringify({ name: 'lenient', id: 'lenient-1', port: 7, SomeFutureField: { x: 1 }, EnableTagOverride: true, check: { TTL: '10s', Status: 'passing', FutureCheckField: 1 } }) });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await passing('lenient')).length, 1);
  const cases: [unknown, RegExp][] = [
    [{ Name: 'x', Port: '80' }, /^Request decode failed: .*Port/],
    [{ Name: 'x', Tags: 'v1' }, /^Request decode failed: .*Tags/],
    [{ Port: 80 }, /^Missing service name/],
    [{ Name: 'x', Address: '0.0.0.0' }, /^Invalid service address/],
    [{ Name: 'x', Check: { Args: ['/bin/true'], Interval: '10s' } }, /weft runs TTL, HTTP, TCP and gRPC checks only/],
    [{ Name: 'x', Check: { TTL: '10s', Status: 'sideways' } }, /Status for checks must/],
    [{ Name: 'x', Check: { HTTP: 'http://127.0.0.1:1/' } }, /Interval must be > 0/],
    [{ Name: 'x', Check: { TTL: 'soon' } }, /^Request decode failed: .*invalid duration/],
    [{ Name: 'Not_A_Label' }, /DNS labels/],
    [{ Name: 'x', Tags: ['has space'] }, /Tags\[0\] "has space"/],
  ];
  for (const [b, want] of cases) {
    const r = await raw('PUT', '/v1/agent/service/register', { body: JSON.stringify(b) });
    assert.equal(r.status, 400, `${JSON.stringify(b)} answered ${r.status} ${r.text}`);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(r.text, want, JSON.stringify(b));
  }
  assert.equal((await raw('PUT', '/v1/agent/service/register', { body: '{not json' })).status, 400);
  assert.equal((await raw('PUT', '/v1/agent/service/register', { body: JSON.stringify({ Name: 'big', Meta: { a: 'x'.repeat(2 * 1024 * 1024) } }) })).status, 413);
  const badIndex = await raw('GET', '/v1/health/service/x?index=abc');
  assert.equal(badIndex.status, 400);
  assert.match(badIndex.text, /^Invalid index/);
  assert.match((await raw('GET', '/v1/health/service/x?index=1&wait=forever')).text, /^Invalid wait time/);
  assert.equal((await raw('GET', '/v1/health/service/x?passing=maybe')).status, 400);
  assert.equal((await raw('GET', '/v1/health/service/x?dc=dc9')).status, 500);
  assert.equal((await raw('GET', '/v1/health/service/x?filter=Service.Port==1')).status, 400);
  assert.equal((await raw('DELETE', '/v1/agent/services')).status, 405);
  // Nothing of the refused registrations reached the catalog.
  assert.deepEqual(Object.keys((await consul.catalog.service.list()) as object).filter((n) => n === 'x' || n === 'not-a-label'), []);
  const unknownCheck = await raw('PUT', '/v1/agent/check/pass/nope');
  assert.equal(unknownCheck.status, 404);
  assert.match(unknownCheck.text, /Unknown check ID "nope"/);
  const unknownService = await raw('PUT', '/v1/agent/service/deregister/nope');
  assert.equal(unknownService.status, 404);
  assert.equal((await raw('GET', '/v1/kv/some/key')).status, 404);
  await consul.agent.service.deregister('lenient-1');
  // Counted on the control plane's /metrics.
  const metrics = await (await fetch(`${cp.url}/metrics`)).text();
  const refused = Number(/^weft_control_consul_requests_total\{method="PUT",code="400"\} (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(refused >= cases.length, `PUT 400s counted: ${refused}`);
  assert.match(metrics, /^weft_control_consul_blocking_queries 0$/m);
});

test('--consul-listen takes HOST:PORT; anything else is a usage error naming the flag', async () => {
  const r = await runWeft(['control', '--consul-listen', 'nope', '--insecure']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--consul-listen must be HOST:PORT.*WEFT_ERR_CLI_USAGE/);
  const self = (await consul.agent.self()) as { Config: { Datacenter: string; NodeName: string } };
  assert.deepEqual([self.Config.Datacenter, self.Config.NodeName], ['dc1', 'weft']);
  assert.equal(await consul.status.leader(), `127.0.0.1:${consulPort}`);
});

test('a control-plane restart keeps Consul-registered instances, their health, and their default check IDs', async () => {
  const app = await echo('audit-1');
  await register({ name: 'audit', id: 'audit-1', address: '127.0.0.1', port: app.port, tags: ['eu'], check: { ttl: '20s' } });
  await consul.agent.check.pass({ id: 'service:audit-1' });
  const before = await raw('GET', '/v1/health/service/audit');
  const indexBefore = Number(before.headers.get('x-consul-index'));
  await cp.stop('SIGTERM');
  await cp.restart();
  await waitFor('the Consul listener back', async () => (await raw('GET', '/v1/status/leader').catch(() => undefined))?.status === 200 || undefined, 20_000, 100);
  const found = await passing('audit');
  assert.equal(found.length, 1);
  assert.deepEqual(found[0]!.Service.Tags, ['eu']);
  const after = await raw('GET', '/v1/health/service/audit');
  assert.ok(Number(after.headers.get('x-consul-index')) > indexBefore, 'the index keeps growing across a restart');
  // The app goes on passing its check by the ID Consul gave it.
  await consul.agent.check.pass({ id: 'service:audit-1', note: 'after restart' });
  assert.equal((await passing('audit'))[0]!.Checks.find((c) => c.CheckID === 'service:audit-1')?.Status, 'passing');
  await consul.agent.check.fail({ id: 'service:audit-1' });
  assert.deepEqual(await passing('audit'), []);
});
