// Bar: the CLI as a user runs it: every verb has --help, `apply -f` creates then reports unchanged,
// `get`/`delete` round-trip, bad input names its field path with no stack trace, read verbs give
// tables and parseable JSON, and an unreachable control plane is one clear error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, type EchoServer } from '../support/upstreams.ts';
import { freePort, stopAll, tempDir, waitFor } from '../support/processes.ts';
import { hasStackTrace, runWeft, writeFixture, type CliResult } from '../support/cli.ts';

const VERBS = ['control', 'proxy', 'run', 'apply', 'get', 'delete', 'services', 'endpoints', 'status', 'check', 'stat', 'top', 'token', 'version'];

let cp: ControlPlaneProcess;
let dir: { path: string; remove(): Promise<void> };
let app: EchoServer | undefined;
let sidecar: SidecarProcess | undefined;

before(async () => {
  [cp, dir] = await Promise.all([startControlPlane(), tempDir('weft-cli-')]);
});

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
  await dir?.remove();
});

const weft = (...args: string[]): Promise<CliResult> => runWeft(args, { control: cp.url });

/** Runs `fn` over items, at most `limit` at a time (each CLI run is a Node start). */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

function assertFailed(r: CliResult, code: number, errCode: string, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(r.stderr.includes(`[${errCode}]`), `${what}: stderr names ${errCode}: ${r.stderr}`);
  assert.ok(!hasStackTrace(r.stderr), `${what}: no stack trace: ${r.stderr}`);
}

/** The table's header row (first line), split into columns. */
function header(stdout: string): string[] {
  return stdout.split('\n')[0].trim().split(/\s{2,}/);
}

const MESH_YAML = `# a Service and the policy for it, as a user would write them
apiVersion: weft.dev/v1alpha1
kind: Service
metadata:
  name: web
spec:
  ports:
    - name: http
      port: 80
---
apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata:
  name: web-policy
spec:
  targetRefs:
    - kind: Service
      name: web
  loadBalancer:
    algorithm: least-request
    choiceCount: 3
`;

test('weft --help and every verb --help exit 0 with usage; an unknown verb exits 2', async () => {
  const top = await runWeft(['--help']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /Usage: weft COMMAND/);
  for (const verb of VERBS) assert.match(top.stdout, new RegExp(`^  ${verb}\\s`, 'm'), `top-level help lists ${verb}`);

  const results = await pool(VERBS, 3, (verb) => runWeft([verb, '--help']));
  VERBS.forEach((verb, i) => {
    const r = results[i];
    assert.equal(r.code, 0, `weft ${verb} --help: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: weft ${verb}\\b`), `weft ${verb} --help prints its usage`);
    assert.equal(r.stderr, '', `weft ${verb} --help writes nothing to stderr`);
  });

  const [unknown, typo, none, short] = await Promise.all([runWeft(['frobnicate']), runWeft(['aply']), runWeft([]), runWeft(['get', '-h'])]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command "frobnicate" \[WEFT_ERR_CLI_UNKNOWN_COMMAND\]$/m, 'an unknown verb is named, with its code, and no guess when nothing is close');
  assert.match(unknown.stderr, /weft --help/, 'and says where the list of commands is');
  assert.equal(unknown.stdout, '');
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /did you mean "apply"\?/, 'a mistyped verb gets a suggestion');
  assert.equal(none.code, 2, 'no verb at all is a usage error');
  assert.match(none.stdout, /Usage: weft COMMAND/);
  assert.equal(short.code, 0);
  assert.match(short.stdout, /Usage: weft get/);
});

test('usage mistakes exit 2 with WEFT_ERR_CLI_USAGE', async () => {
  const runs: [string[], string][] = [
    [['apply'], 'apply without -f'],
    [['get'], 'get without a type'],
    [['get', 'widgets'], 'get of an unknown type'],
    [['get', 'backendpolicies', '--frobnicate'], 'an unknown flag'],
    [['services', '-o', 'xml'], 'an unknown output format'],
    [['delete', 'backendpolicy'], 'delete without a name'],
    [['proxy'], 'proxy without --service'],
  ];
  const results = await pool(runs, 3, ([args]) => weft(...args));
  runs.forEach(([, what], i) => {
    assertFailed(results[i], 2, 'WEFT_ERR_CLI_USAGE', what);
    assert.match(results[i].stderr.split('\n')[0], /^error: .*\[WEFT_ERR_CLI_USAGE\]$/, `${what}: the code is on the first line, before the usage`);
  });
  const flag = results[runs.findIndex(([, what]) => what === 'an unknown flag')];
  assert.match(flag.stderr, /^error: unknown option --frobnicate \[WEFT_ERR_CLI_USAGE\]$/m, "Node's parseArgs text (with its unclosed quote) is not shown");
  const typo = await weft('get', 'backendpolicies', '--outptu', 'yaml');
  assert.match(typo.stderr, /did you mean --output\?/, 'a mistyped flag gets a suggestion');
});

test('weft apply -f creates, then reports unchanged; get lists and shows it; delete removes it', async () => {
  const file = await writeFixture(dir.path, 'mesh.yaml', MESH_YAML);
  const first = await weft('apply', '-f', file);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^service\/web created$/m);
  assert.match(first.stdout, /^backendpolicy\/web-policy created$/m);

  const second = await weft('apply', '-f', file);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^service\/web unchanged$/m);
  assert.match(second.stdout, /^backendpolicy\/web-policy unchanged$/m);

  const stored = await cp.api('GET', '/v1/resources/backendpolicies/default/web-policy');
  assert.equal(stored.status, 200);
  assert.equal(stored.body.spec.loadBalancer.algorithm, 'least-request');

  const [table, alias, json, yaml] = await Promise.all([
    weft('get', 'backendpolicies'),
    weft('get', 'bp'),
    weft('get', 'backendpolicy', 'web-policy', '-o', 'json'),
    weft('get', 'backendpolicy', 'web-policy', '-o', 'yaml'),
  ]);
  assert.equal(table.code, 0, table.stderr);
  assert.deepEqual(header(table.stdout), ['NAMESPACE', 'NAME', 'VERSION', 'AGE']);
  const row = table.stdout.split('\n').find((l) => /\bweb-policy\b/.test(l));
  assert.ok(row, `the table lists web-policy:\n${table.stdout}`);
  assert.deepEqual(row.trim().split(/\s+/).slice(0, 3), ['default', 'web-policy', stored.body.metadata.resourceVersion]);
  assert.equal(alias.code, 0, alias.stderr);
  const aliasRow = alias.stdout.split('\n').find((l) => /\bweb-policy\b/.test(l));
  assert.deepEqual(aliasRow?.trim().split(/\s+/).slice(0, 3), ['default', 'web-policy', stored.body.metadata.resourceVersion], 'the short name lists the same');

  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), stored.body, '-o json is exactly what the API stores');

  // `-o yaml` round-trips: applying it back changes nothing.
  assert.equal(yaml.code, 0, yaml.stderr);
  const roundTrip = await writeFixture(dir.path, 'roundtrip.yaml', yaml.stdout);
  const reapplied = await weft('apply', '-f', roundTrip);
  assert.equal(reapplied.code, 0, reapplied.stderr);
  assert.match(reapplied.stdout, /^backendpolicy\/web-policy unchanged$/m);

  // From stdin, with JSON output.
  const viaStdin = await runWeft(['apply', '-f', '-', '-o', 'json'], { control: cp.url, input: MESH_YAML });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  const items = JSON.parse(viaStdin.stdout).items as { kind: string; name: string; applied: string }[];
  assert.deepEqual(items.map((i) => `${i.kind}/${i.name} ${i.applied}`), ['Service/web unchanged', 'BackendPolicy/web-policy unchanged']);

  const del = await weft('delete', 'backendpolicy', 'web-policy');
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /^backendpolicy\/web-policy deleted$/m);
  const [gone, again] = await Promise.all([weft('get', 'backendpolicy', 'web-policy'), weft('delete', 'backendpolicy', 'web-policy')]);
  assertFailed(gone, 1, 'WEFT_ERR_STORE_NOT_FOUND', 'get after delete');
  assertFailed(again, 1, 'WEFT_ERR_STORE_NOT_FOUND', 'delete twice');
  const svc = await cp.api('GET', '/v1/resources/services/default/web');
  assert.equal(svc.status, 200, 'deleting the policy left the Service alone');

  const emptyList = await weft('get', 'backendpolicies');
  assert.equal(emptyList.code, 0);
  assert.ok(!/\bweb-policy\b/.test(emptyList.stdout));
});

test('weft apply -f with a bad document exits 1 naming the field path, applies nothing, no stack trace', async () => {
  const bad = await writeFixture(dir.path, 'bad.yaml', `apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata:
  name: fine-policy
spec:
  targetRefs: [{ kind: Service, name: web }]
---
apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata:
  name: bad-policy
spec:
  targetRefs: [{ kind: Service, name: Bad_Name }]
  loadBalancer: { algorithm: fastest }
`);
  const r = await weft('apply', '-f', bad);
  assertFailed(r, 1, 'WEFT_ERR_RESOURCE_INVALID', 'apply bad.yaml');
  assert.ok(r.stderr.includes('items[1].spec.loadBalancer.algorithm'), r.stderr);
  assert.ok(r.stderr.includes('items[1].spec.targetRefs[0].name'), r.stderr);
  assert.ok(!r.stderr.includes('items[0].'), `the valid document is not blamed: ${r.stderr}`);
  assert.equal(r.stderr.split('items[1].spec.loadBalancer.algorithm').length, 2, `each problem is printed once: ${r.stderr}`);
  assert.equal(r.stdout, '');
  for (const name of ['fine-policy', 'bad-policy']) {
    const res = await cp.api('GET', `/v1/resources/backendpolicies/default/${name}`);
    assert.equal(res.status, 404, `${name} was not applied`);
  }

  const notYaml = await writeFixture(dir.path, 'broken.yaml', 'kind: BackendPolicy\nmetadata: {name: [unclosed\n');
  const missing = `${dir.path}/no-such-file.yaml`;
  const empty = await writeFixture(dir.path, 'empty.yaml', '# nothing here\n');
  const [parse, nofile, nothing] = await Promise.all([weft('apply', '-f', notYaml), weft('apply', '-f', missing), weft('apply', '-f', empty)]);
  assertFailed(parse, 1, 'WEFT_ERR_CLI_PARSE', 'apply of invalid YAML');
  assertFailed(nofile, 1, 'WEFT_ERR_CLI_FILE', 'apply of a missing file');
  assertFailed(nothing, 1, 'WEFT_ERR_CLI_EMPTY', 'apply of an empty file');
});

test('services, endpoints and status give tables with headers and parseable JSON once a sidecar is registered', async () => {
  const before = await weft('services', '-o', 'json');
  assert.equal(before.code, 0, before.stderr);
  assert.ok(Array.isArray(JSON.parse(before.stdout).items));

  app = await startEcho('web-1');
  sidecar = await startSidecar(cp.url, 'web', ['--app-port', String(app.port), '--labels', 'version=v1']);
  await waitForPassing(cp, 'web', 1);
  const id = sidecar.id;
  // In sync with a snapshot that already holds its own endpoint, not an older one acked before it.
  const adminPort = sidecar.adminPort;
  await waitFor('the web sidecar runs a snapshot with its own endpoint', async () => {
    const config = (await (await fetch(`http://127.0.0.1:${adminPort}/config`)).json()) as { snapshot?: { services: { name: string; ports: { endpoints: { id: string; health: string }[] }[] }[] } };
    return config.snapshot?.services.find((s) => s.name === 'web')?.ports.some((p) => p.endpoints.some((e) => e.id === id && e.health === 'passing'));
  }, 20_000);
  await waitForInSync(cp, 1);

  const [services, endpoints, status, endpointsOne] = await Promise.all([
    weft('services', '-o', 'json'),
    weft('endpoints', '-o', 'json'),
    weft('status', '-o', 'json'),
    weft('endpoints', 'web', '-o', 'json'),
  ]);
  for (const r of [services, endpoints, status, endpointsOne]) assert.equal(r.code, 0, r.stderr);
  const svc = (JSON.parse(services.stdout).items as { name: string; namespace: string; instances: number; passing: number; ports: { port: number }[] }[]).find((s) => s.name === 'web');
  assert.ok(svc, services.stdout);
  assert.equal(svc.namespace, 'default');
  assert.equal(svc.instances, 1);
  assert.equal(svc.passing, 1);
  assert.deepEqual(svc.ports.map((p) => p.port), [80]);

  const eps = JSON.parse(endpoints.stdout).items as { id: string; service: string; health: string; labels: Record<string, string> }[];
  const ep = eps.find((e) => e.id === id);
  assert.ok(ep, endpoints.stdout);
  assert.equal(ep.service, 'web');
  assert.equal(ep.health, 'passing');
  assert.equal(ep.labels.version, 'v1');
  assert.deepEqual((JSON.parse(endpointsOne.stdout).items as { id: string }[]).map((e) => e.id), [id], 'endpoints SERVICE filters');

  const proxies = JSON.parse(status.stdout).items as { id: string; service: string; connected: boolean; inSync: boolean; ackedVersion?: string; currentVersion?: string }[];
  const px = proxies.find((p) => p.id === id);
  assert.ok(px, status.stdout);
  assert.equal(px.service, 'web');
  assert.equal(px.connected, true);
  assert.equal(px.inSync, true);
  assert.equal(px.ackedVersion, px.currentVersion);

  const [servicesT, endpointsT, statusT, wide, yaml] = await Promise.all([weft('services'), weft('endpoints'), weft('status'), weft('endpoints', '-o', 'wide'), weft('status', '-o', 'yaml')]);
  for (const r of [servicesT, endpointsT, statusT, wide, yaml]) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(header(servicesT.stdout), ['NAMESPACE', 'NAME', 'PORTS', 'INSTANCES', 'HEALTHY']);
  assert.ok(servicesT.stdout.split('\n').some((l) => /^default\s+web\s+80\/http\s+1\s+1\/1$/.test(l.trim())), servicesT.stdout);
  assert.deepEqual(header(endpointsT.stdout), ['SERVICE', 'ID', 'ADDRESS', 'LABELS', 'WEIGHT', 'HEALTH', 'HEARTBEAT']);
  const epRow = endpointsT.stdout.split('\n').find((l) => l.includes(id));
  assert.ok(epRow, endpointsT.stdout);
  assert.match(epRow, /\bversion=v1\b/);
  assert.match(epRow, /\bpassing\b/);
  assert.deepEqual(header(wide.stdout), ['SERVICE', 'ID', 'ADDRESS', 'LABELS', 'WEIGHT', 'HEALTH', 'HEARTBEAT', 'IDENTITY', 'WHY']);
  assert.match(wide.stdout.split('\n').find((l) => l.includes(id)) ?? '', /spiffe:\/\/weft\.local\/ns\/default\/svc\/web/, 'wide shows the identity the sidecar registered');
  assert.deepEqual(header(statusT.stdout), ['PROXY', 'SERVICE', 'STATUS', 'ACKED', 'CURRENT', 'CONNECTED', 'CERT']);
  const stRow = statusT.stdout.split('\n').find((l) => l.startsWith(id));
  assert.ok(stRow, statusT.stdout);
  assert.match(stRow, /\bSYNCED\b/);
  assert.match(stRow, /\b2[34]h left\b/, 'the certificate issued at start has about a day left');
  assert.match(yaml.stdout, new RegExp(`id: ${id}`));
  assert.match(yaml.stdout, /identity: spiffe:\/\/weft\.local\/ns\/default\/svc\/web/);

  // A client-only sidecar shows in status but registers no endpoint.
  const client = await startSidecar(cp.url, 'client');
  await waitForInSync(cp, 2);
  const after = await weft('status', '-o', 'json');
  assert.ok((JSON.parse(after.stdout).items as { id: string }[]).some((p) => p.id === client.id));
  const epsAfter = await weft('endpoints', '-o', 'json');
  assert.ok(!(JSON.parse(epsAfter.stdout).items as { id: string }[]).some((e) => e.id === client.id));

  // Stopping the sidecar deregisters it; the CLI sees it go.
  await sidecar.process.stop('SIGTERM');
  await waitForPassing(cp, 'web', 0, 30_000);
  const gone = await weft('endpoints', 'web', '-o', 'json');
  assert.equal(gone.code, 0, gone.stderr);
  assert.deepEqual(JSON.parse(gone.stdout).items, []);
  const noneTable = await weft('endpoints', 'web');
  assert.equal(noneTable.code, 0, noneTable.stderr);
  assert.ok(!noneTable.stdout.includes(id));
});

test('with no control plane reachable, read and write verbs exit 1 with WEFT_ERR_CLI_UNREACHABLE', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const file = await writeFixture(dir.path, 'unreachable.yaml', MESH_YAML);
  const runs: string[][] = [['services'], ['endpoints', '-o', 'json'], ['status'], ['get', 'backendpolicies'], ['apply', '-f', file], ['delete', 'bp', 'x']];
  const results = await pool(runs, 3, (args) => runWeft(args, { control: closed }));
  runs.forEach((args, i) => {
    assertFailed(results[i], 1, 'WEFT_ERR_CLI_UNREACHABLE', `weft ${args.join(' ')}`);
    assert.equal(results[i].stdout, '', `weft ${args.join(' ')} prints nothing on stdout`);
  });
  // --control wins over WEFT_CONTROL.
  const flag = await runWeft(['services', '-o', 'json', '--control', cp.url], { control: closed, token: cp.adminToken });
  assert.equal(flag.code, 0, flag.stderr);
  JSON.parse(flag.stdout);
  // `version` reports the control plane as unreachable but still succeeds.
  const version = await runWeft(['version'], { control: closed });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^client: weft /m);
});
