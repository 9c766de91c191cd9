// Bar: a resource with a wrong field is rejected with its field path, and the stored state (and what
// proxies run) is unchanged; stale writes conflict; valid changes reach proxies and survive a restart.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, startSidecar, waitForInSync, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; creationTimestamp?: string; generation?: number };
  spec: { targetRefs: { kind: string; name: string }[]; loadBalancer: { algorithm: string; choiceCount: number } } & Record<string, unknown>;
  status?: { applied: string };
}

interface ProxyRow {
  id: string;
  connected: boolean;
  inSync: boolean;
  currentVersion?: string;
  ackedVersion?: string;
  nackedVersion?: string;
}

let cp: ControlPlaneProcess;
let client: SidecarProcess;
const seenVersions = new Set<string>();

before(async () => {
  cp = await startControlPlane();
  // A service `echo` for policies to target (no TTL: it stays registered for the whole file).
  const reg = await cp.api('POST', '/v1/catalog/instances', { service: 'echo', id: 'echo-1', address: '127.0.0.1', port: 9, ttlSeconds: 0 });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  client = await startSidecar(cp.url, 'client');
});

after(async () => {
  await stopAll();
  await cp?.cleanup();
});

function policy(name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name, ...metadata },
    spec: { targetRefs: [{ kind: 'Service', name: 'echo' }], ...spec },
  };
}

const bpPath = (name: string): string => `/v1/resources/backendpolicies/default/${name}`;

async function read(name: string): Promise<Resource> {
  const res = await cp.api<Resource>('GET', bpPath(name));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function expectMissing(name: string): Promise<void> {
  const res = await cp.api('GET', bpPath(name));
  assert.equal(res.status, 404, `${name} must not exist: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, 'WEFT_ERR_STORE_NOT_FOUND');
}

function paths(body: { error: { details?: { path: string }[] } }): string[] {
  return (body.error.details ?? []).map((d) => d.path).sort();
}

/** Raw request with a body that is not (valid) JSON. */
async function raw(method: string, path: string, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(cp.url + path, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` }, body });
  return { status: res.status, body: await res.json() };
}

async function clientConfig(): Promise<{ version?: string; snapshot?: { version: string; services: { name: string; namespace: string; policy: Resource['spec'] }[] } }> {
  return (await fetch(`http://127.0.0.1:${client.adminPort}/config`)).json() as Promise<any>;
}

async function clientAlgorithm(): Promise<string | undefined> {
  const config = await clientConfig();
  return config.snapshot?.services.find((s) => s.name === 'echo' && s.namespace === 'default')?.policy.loadBalancer.algorithm;
}

test('a valid BackendPolicy is created with PUT and POST /v1/apply and reads back with a resourceVersion', async () => {
  const put = await cp.api<Resource>('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'random' } }));
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.equal(put.body.status?.applied, 'created');
  const version = put.body.metadata.resourceVersion;
  assert.ok(version, 'resourceVersion set');
  seenVersions.add(version);

  const got = await read('bp-main');
  assert.equal(got.metadata.resourceVersion, version);
  assert.equal(got.metadata.namespace, 'default', 'namespace defaulted');
  assert.equal(got.spec.loadBalancer.algorithm, 'random');
  assert.equal(got.spec.loadBalancer.choiceCount, 2, 'defaults filled in');
  assert.equal(got.status, undefined, 'the apply outcome is not stored');

  const again = await cp.api<Resource>('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'random' } }));
  assert.equal(again.status, 200);
  assert.equal(again.body.status?.applied, 'unchanged');
  assert.equal(again.body.metadata.resourceVersion, version, 'an unchanged apply burns no version');

  const applied = await cp.api('POST', '/v1/apply', { items: [policy('bp-side', { loadBalancer: { algorithm: 'least-request' } }, { namespace: 'default' })] });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  assert.equal(applied.body.items.length, 1);
  assert.equal(applied.body.items[0].applied, 'created');
  assert.equal(applied.body.items[0].name, 'bp-side');
  const side = await read('bp-side');
  assert.equal(side.metadata.resourceVersion, applied.body.items[0].resourceVersion);
  assert.notEqual(side.metadata.resourceVersion, version);
  seenVersions.add(side.metadata.resourceVersion!);
});

test('an invalid update is refused with its field paths and the stored resource is unchanged', async () => {
  const before = await read('bp-main');
  const cases: { body: Record<string, unknown>; paths: string[] }[] = [
    { body: policy('bp-main', { loadBalancer: { algorithm: 'fastest' } }), paths: ['spec.loadBalancer.algorithm'] },
    { body: policy('bp-main', { targetRefs: [{ kind: 'Service', name: 'Bad_Name' }] }), paths: ['spec.targetRefs[0].name'] },
    {
      body: policy('bp-main', { targetRefs: [{ kind: 'Service', name: 'Bad_Name' }], loadBalancer: { algorithm: 'fastest', choiceCount: 1 } }),
      paths: ['spec.loadBalancer.algorithm', 'spec.loadBalancer.choiceCount', 'spec.targetRefs[0].name'],
    },
    { body: policy('bp-main', { targetRefs: [] }), paths: ['spec.targetRefs'] },
    { body: policy('bp-main', { colour: 'red' }), paths: ['spec.colour'] },
    { body: policy('bp-main', { timeouts: { connectMs: '2s' } }), paths: ['spec.timeouts.connectMs'] },
    { body: policy('bp-main', {}, { colour: 'red' }), paths: ['metadata.colour'] },
    { body: { ...policy('bp-main'), apiVersion: 'weft.dev/v1' }, paths: ['apiVersion'] },
    { body: { ...policy('bp-main'), extra: true }, paths: ['extra'] },
  ];
  for (const { body, paths: want } of cases) {
    const res = await cp.api('PUT', bpPath('bp-main'), body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'WEFT_ERR_RESOURCE_INVALID', JSON.stringify(body));
    assert.deepEqual(paths(res.body), want, JSON.stringify(body));

    // The same document through /v1/apply: same paths under items[0].
    const viaApply = await cp.api('POST', '/v1/apply', { items: [body] });
    assert.equal(viaApply.status, 400);
    assert.equal(viaApply.body.error.code, 'WEFT_ERR_RESOURCE_INVALID');
    assert.deepEqual(paths(viaApply.body), want.map((p) => `items[0].${p}`));
  }
  assert.deepEqual(await read('bp-main'), before, 'the stored resource is exactly as before, same resourceVersion');
});

test('POST /v1/apply with one invalid item applies none of them', async () => {
  const main = await read('bp-main');
  const res = await cp.api('POST', '/v1/apply', {
    items: [
      policy('bp-new'),
      policy('bp-main', { loadBalancer: { algorithm: 'weighted' } }),
      policy('bp-broken', { loadBalancer: { algorithm: 'fastest' } }),
    ],
  });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'WEFT_ERR_RESOURCE_INVALID');
  assert.deepEqual(paths(res.body), ['items[2].spec.loadBalancer.algorithm']);
  await expectMissing('bp-new');
  await expectMissing('bp-broken');
  assert.deepEqual(await read('bp-main'), main, 'the valid update in the same batch was not applied');

  const notAList = await cp.api('POST', '/v1/apply', { items: policy('bp-new') });
  assert.equal(notAList.status, 400);
  assert.equal(notAList.body.error.code, 'WEFT_ERR_API_BAD_REQUEST');
  assert.deepEqual(paths(notAList.body), ['items']);
  await expectMissing('bp-new');
});

test('a write conditional on a stale resourceVersion is 409 WEFT_ERR_STORE_CONFLICT and changes nothing', async () => {
  const current = await read('bp-main');
  const stale = String(Number(current.metadata.resourceVersion) - 1);
  for (const version of [stale, '999999']) {
    const res = await cp.api('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'weighted' } }, { resourceVersion: version }));
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'WEFT_ERR_STORE_CONFLICT');
    const viaApply = await cp.api('POST', '/v1/apply', { items: [policy('bp-main', { loadBalancer: { algorithm: 'weighted' } }, { resourceVersion: version })] });
    assert.equal(viaApply.status, 409, JSON.stringify(viaApply.body));
    assert.equal(viaApply.body.error.code, 'WEFT_ERR_STORE_CONFLICT');
  }
  const del = await cp.api('DELETE', `${bpPath('bp-main')}?resourceVersion=${stale}`);
  assert.equal(del.status, 409);
  assert.equal(del.body.error.code, 'WEFT_ERR_STORE_CONFLICT');
  assert.deepEqual(await read('bp-main'), current, 'neither the conflicting updates nor the delete changed it');

  // A version for an object that does not exist is a conflict too (what the writer read is gone).
  const ghost = await cp.api('PUT', bpPath('bp-ghost'), policy('bp-ghost', {}, { resourceVersion: current.metadata.resourceVersion }));
  assert.equal(ghost.status, 409);
  assert.equal(ghost.body.error.code, 'WEFT_ERR_STORE_CONFLICT');
  await expectMissing('bp-ghost');

  // With the current version the same write succeeds and moves the version on.
  const ok = await cp.api<Resource>('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'random', choiceCount: 3 } }, { resourceVersion: current.metadata.resourceVersion }));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.status?.applied, 'configured');
  assert.notEqual(ok.body.metadata.resourceVersion, current.metadata.resourceVersion);
  assert.ok(!seenVersions.has(ok.body.metadata.resourceVersion!), 'a new version is never a reused one');
  seenVersions.add(ok.body.metadata.resourceVersion!);
  assert.equal(ok.body.metadata.generation, (current.metadata.generation ?? 0) + 1, 'a spec change bumps generation');
  // The old version is now stale.
  const late = await cp.api('PUT', bpPath('bp-main'), policy('bp-main', {}, { resourceVersion: current.metadata.resourceVersion }));
  assert.equal(late.status, 409);
  assert.equal(late.body.error.code, 'WEFT_ERR_STORE_CONFLICT');
  const now = await read('bp-main');
  assert.equal(now.metadata.resourceVersion, ok.body.metadata.resourceVersion);
  assert.equal(now.spec.loadBalancer.choiceCount, 3);
});

test('unknown kinds, malformed JSON, wrong paths and empty bodies are refused with their codes', async () => {
  const unknownType = await cp.api('PUT', '/v1/resources/widgets/default/w1', { apiVersion: 'weft.dev/v1alpha1', kind: 'Widget', metadata: { name: 'w1' }, spec: {} });
  assert.equal(unknownType.status, 404);
  assert.equal(unknownType.body.error.code, 'WEFT_ERR_API_UNKNOWN_KIND');
  const listUnknown = await cp.api('GET', '/v1/resources/widgets');
  assert.equal(listUnknown.status, 404);
  assert.equal(listUnknown.body.error.code, 'WEFT_ERR_API_UNKNOWN_KIND');

  const unknownKind = await cp.api('POST', '/v1/apply', { items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'Widget', metadata: { name: 'w1' }, spec: {} }] });
  assert.equal(unknownKind.status, 400);
  assert.equal(unknownKind.body.error.code, 'WEFT_ERR_RESOURCE_INVALID');
  assert.deepEqual(paths(unknownKind.body), ['items[0].kind']);

  // Kinds are case-sensitive in documents.
  const lowerKind = await cp.api('PUT', bpPath('bp-lower'), { ...policy('bp-lower'), kind: 'backendpolicy' });
  assert.equal(lowerKind.status, 400);
  assert.equal(lowerKind.body.error.code, 'WEFT_ERR_RESOURCE_INVALID');
  assert.deepEqual(paths(lowerKind.body), ['kind']);

  for (const [method, path] of [['PUT', bpPath('bp-json')], ['POST', '/v1/apply']] as const) {
    const bad = await raw(method, path, '{"apiVersion": "weft.dev/v1alpha1", "kind": ');
    assert.equal(bad.status, 400, `${method} ${path}`);
    assert.equal(bad.body.error.code, 'WEFT_ERR_API_BAD_JSON', `${method} ${path}`);
    const empty = await raw(method, path, '');
    assert.equal(empty.status, 400, `${method} ${path}`);
    assert.equal(empty.body.error.code, 'WEFT_ERR_API_EMPTY_BODY', `${method} ${path}`);
  }
  await expectMissing('bp-json');

  const notAnObject = await raw('PUT', bpPath('bp-array'), '[1, 2]');
  assert.equal(notAnObject.status, 400);
  assert.equal(notAnObject.body.error.code, 'WEFT_ERR_RESOURCE_INVALID');

  const mismatch = await cp.api('PUT', bpPath('bp-here'), policy('bp-there'));
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.body.error.code, 'WEFT_ERR_API_PATH_MISMATCH');
  await expectMissing('bp-here');
  await expectMissing('bp-there');
  const wrongNs = await cp.api('PUT', bpPath('bp-here'), policy('bp-here', {}, { namespace: 'other' }));
  assert.equal(wrongNs.status, 400);
  assert.equal(wrongNs.body.error.code, 'WEFT_ERR_API_PATH_MISMATCH');
  await expectMissing('bp-here');

  const missingDelete = await cp.api('DELETE', bpPath('bp-nothing'));
  assert.equal(missingDelete.status, 404);
  assert.equal(missingDelete.body.error.code, 'WEFT_ERR_STORE_NOT_FOUND');
});

test('an applied BackendPolicy reaches the client sidecar; a rejected one leaves it as it was', async () => {
  await waitForInSync(cp, 1);
  const res = await cp.api<Resource>('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'weighted' } }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  seenVersions.add(res.body.metadata.resourceVersion!);
  // bp-main is the oldest policy targeting echo, so it is the one in force.
  await waitFor('client sidecar runs the weighted policy', async () => (await clientAlgorithm()) === 'weighted', 20_000);

  const config = await clientConfig();
  const proxyVersion = config.snapshot?.version;
  assert.ok(proxyVersion);
  const row = await waitFor('the client proxy reported in sync with the new version', async () => {
    const { body } = await cp.api<{ items: ProxyRow[] }>('GET', '/v1/proxies');
    const p = body.items.find((x) => x.id === client.id);
    return p && p.connected && p.inSync && p.ackedVersion === proxyVersion ? p : undefined;
  }, 20_000);
  assert.equal(row.currentVersion, proxyVersion);
  assert.equal(row.nackedVersion ?? undefined, undefined, 'the proxy rejected nothing');

  const rejected = await cp.api('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'fastest' } }));
  assert.equal(rejected.status, 400);
  // Give a (wrong) push time to happen, then check nothing moved.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await clientConfig();
  assert.equal(after.snapshot?.version, proxyVersion, 'no new snapshot for a rejected write');
  assert.equal(await clientAlgorithm(), 'weighted');
  const { body } = await cp.api<{ items: ProxyRow[] }>('GET', '/v1/proxies');
  assert.equal(body.items.find((x) => x.id === client.id)?.currentVersion, proxyVersion);
});

test('resources survive a control-plane restart with the same versions', async () => {
  const before = await cp.api<{ items: Resource[] }>('GET', '/v1/resources');
  assert.ok(before.body.items.length >= 2, JSON.stringify(before.body));
  const main = await read('bp-main');

  const code = await cp.stop('SIGTERM');
  assert.equal(code, 0, 'the control plane exits cleanly on SIGTERM');
  await cp.restart();

  const afterRestart = await cp.api<{ items: Resource[] }>('GET', '/v1/resources');
  assert.deepEqual(afterRestart.body.items, before.body.items, 'every resource back, same versions and timestamps');
  assert.deepEqual(await read('bp-main'), main);

  // The version sequence carries on: no version is handed out twice.
  const next = await cp.api<Resource>('PUT', bpPath('bp-main'), policy('bp-main', { loadBalancer: { algorithm: 'round-robin' } }, { resourceVersion: main.metadata.resourceVersion }));
  assert.equal(next.status, 200, JSON.stringify(next.body));
  assert.ok(!seenVersions.has(next.body.metadata.resourceVersion!), `version ${next.body.metadata.resourceVersion} was not used before the restart (${[...seenVersions].join(',')})`);
  const created = await cp.api<Resource>('PUT', bpPath('bp-after'), policy('bp-after'));
  assert.equal(created.status, 201);
  assert.ok(!seenVersions.has(created.body.metadata.resourceVersion!));

  // The sidecar reconnects and runs the post-restart policy.
  await waitFor('client sidecar runs the round-robin policy after the restart', async () => (await clientAlgorithm()) === 'round-robin', 30_000);
  await waitForInSync(cp, 1, 30_000);
});
