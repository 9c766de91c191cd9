// Bar: `weft run` starts a sidecar and then its app as one unit: jobs call the mesh through
// HTTP_PROXY and their exit code becomes weft run's; a server app starts only once the sidecar is
// ready, is registered, and on SIGTERM leaves the catalog before it is signalled; usage errors exit 2/127.

import { after, before, test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startControlPlane, startSidecar, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { freePort, nodeBin, spawnWeft, stopAll, waitFor, type WeftProcess } from '../support/processes.ts';

let cp: ControlPlaneProcess;
let echo: EchoServer;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  echo = await startEcho('echo-1');
  [, client] = await Promise.all([startSidecar(cp.url, 'echo', ['--app-port', String(echo.port)]), startSidecar(cp.url, 'client')]);
  await waitForPassing(cp, 'echo', 1);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await echo?.close();
  await cp?.cleanup();
});

// A job: reports what weft run gave it, calls the mesh by service name, exits with $EXIT_CODE.
const JOB = `
const config = await (await fetch(process.env.WEFT_ADMIN_URL + '/config')).json();
console.log('JOB-ENV ' + JSON.stringify({ HTTP_PROXY: process.env.HTTP_PROXY, NODE_USE_ENV_PROXY: process.env.NODE_USE_ENV_PROXY, WEFT_SERVICE: process.env.WEFT_SERVICE, outbound: config.listeners.outbound }));
const res = await fetch('http://echo/from-job', { signal: AbortSignal.timeout(10_000) });
console.log('JOB-STATUS ' + res.status);
console.log('JOB-BODY ' + (await res.text()));
process.exit(Number(process.env.EXIT_CODE));
`;

/** The exit code, or a failure carrying the output if weft run is still running after `ms`. */
async function exitOf(proc: WeftProcess, ms = 30_000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(new Error(`weft run still running after ${ms}ms; output:\n${proc.output().slice(-3000)}`));
    }, ms);
  });
  try {
    return await Promise.race([proc.exited(), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function line(output: string, tag: string): string {
  const m = output.match(new RegExp(`^${tag} (.*)$`, 'm'));
  assert.ok(m, `output has a ${tag} line:\n${output.slice(-3000)}`);
  return m[1];
}

for (const exitCode of [0, 3]) {
  test(`a job (no --port) reaches mesh services through HTTP_PROXY and weft run exits with its code (${exitCode})`, { timeout: 90_000 }, async () => {
    const run = spawnWeft(['run', '--control', cp.url, '--service', 'job', '--drain-ms', '100', '--', nodeBin, '--input-type=module', '-e', JOB], { EXIT_CODE: String(exitCode), WEFT_JOIN_TOKEN: await cp.joinToken('job') });
    const code = await exitOf(run);
    const out = run.output();
    assert.equal(code, exitCode, out.slice(-3000));

    const env = JSON.parse(line(out, 'JOB-ENV')) as { HTTP_PROXY: string; NODE_USE_ENV_PROXY: string; WEFT_SERVICE: string; outbound: number };
    assert.equal(env.HTTP_PROXY, `http://127.0.0.1:${env.outbound}`, 'HTTP_PROXY is the sidecar outbound listener');
    assert.equal(env.NODE_USE_ENV_PROXY, '1');
    assert.equal(env.WEFT_SERVICE, 'job');
    assert.equal(line(out, 'JOB-STATUS'), '200');
    const body = JSON.parse(line(out, 'JOB-BODY')) as { name: string; url: string; source: string };
    assert.equal(body.name, 'echo-1');
    assert.equal(body.url, '/from-job');
    assert.equal(body.source, 'job.default', 'the call went through the job sidecar');
  });
}

test("`weft run -- node …` runs the app on weft's own Node, even when an older node is first on PATH", { timeout: 60_000 }, async () => {
  // A stand-in for an old system Node: first on PATH, it only says it was picked.
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-oldnode-'));
  try {
    await writeFile(path.join(dir, 'node'), '#!/bin/sh\necho NODE-VERSION old-system-node\n', { mode: 0o755 });
    const run = spawnWeft(['run', '--control', cp.url, '--service', 'job', '--drain-ms', '100', '--', 'node', '-e', "console.log('NODE-VERSION ' + process.version)"], { PATH: `${dir}:${process.env.PATH}`, WEFT_JOIN_TOKEN: await cp.joinToken('job') });
    assert.equal(await exitOf(run), 0, run.output().slice(-3000));
    assert.match(line(run.output(), 'NODE-VERSION'), /^v24\./);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// A server: records whether its sidecar was ready when it started; on SIGTERM reports how many
// instances of its service the catalog still lists, then exits 0.
const APP = `
import http from 'node:http';
const ready = await fetch(process.env.WEFT_ADMIN_URL + '/ready');
console.log('APP-READY-AT-START ' + ready.status);
const server = http.createServer((req, res) => res.end(JSON.stringify({ app: 'runapp', url: req.url, source: req.headers['x-weft-source'] })));
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('APP-LISTENING ' + process.env.PORT));
process.on('SIGTERM', async () => {
  const list = await (await fetch(process.env.CP_URL + '/v1/catalog/instances?service=runapp', { headers: { authorization: 'Bearer ' + process.env.CP_TOKEN } })).json();
  console.log('APP-SIGTERM listed=' + list.items.length);
  server.close();
  process.exit(0);
});
`;

test('with --port: the app starts only once the sidecar is ready, is reachable, and SIGTERM deregisters before signalling it', { timeout: 90_000 }, async () => {
  const joinToken = await cp.joinToken('runapp');
  const readOnly = await cp.createAdminToken('read-only');
  // The control plane is down, so the sidecar cannot be ready: the app must not start yet.
  assert.equal(await cp.stop('SIGKILL'), 137);
  const port = await freePort();
  const run = spawnWeft(['run', '--control', cp.url, '--service', 'runapp', '--port', String(port), '--ttl-seconds', '5', '--drain-ms', '300', '--', nodeBin, '--input-type=module', '-e', APP], { CP_URL: cp.url, CP_TOKEN: readOnly, WEFT_JOIN_TOKEN: joinToken });
  try {
    await run.waitForOutput(/waiting for the sidecar/, 20_000);
    assert.doesNotMatch(run.output(), /APP-/, 'the app did not start before its sidecar was ready');

    await cp.restart();
    await run.waitForOutput(/APP-LISTENING/, 30_000);
    assert.equal(line(run.output(), 'APP-READY-AT-START'), '200', 'the sidecar was ready when the app started');
    assert.equal(line(run.output(), 'APP-LISTENING'), String(port), 'PORT is the --port value');

    await waitForPassing(cp, 'runapp', 1, 30_000);
    const res = await waitFor('runapp reachable through the client sidecar', async () => {
      const r = await getViaProxy(client.outboundPort, 'http://runapp/hello');
      return r.status === 200 ? r : undefined;
    }, 30_000);
    const body = JSON.parse(res.body) as { app: string; url: string; source: string };
    assert.equal(body.app, 'runapp');
    assert.equal(body.url, '/hello');
    assert.equal(body.source, 'client.default');

    run.child.kill('SIGTERM');
    const code = await exitOf(run);
    assert.equal(code, 0, run.output().slice(-3000));
    assert.equal(line(run.output(), 'APP-SIGTERM'), 'listed=0', 'the instance left the catalog before the app was signalled');
    const { body: catalog } = await cp.api('GET', '/v1/catalog/instances?service=runapp');
    assert.equal(catalog.items.length, 0);
  } finally {
    await run.stop('SIGKILL');
  }
});

test('a command that does not exist: exit 127, naming the command', { timeout: 90_000 }, async () => {
  const missing = '/nonexistent/weft-test-no-such-command';
  const run = spawnWeft(['run', '--control', cp.url, '--service', 'nocmd', '--drain-ms', '100', '--', missing, 'arg'], { WEFT_JOIN_TOKEN: await cp.joinToken('nocmd') });
  assert.equal(await exitOf(run), 127, run.output().slice(-3000));
  assert.ok(run.output().includes(missing), run.output().slice(-3000));
});

test('weft run without -- COMMAND is a usage error: exit 2', { timeout: 90_000 }, async () => {
  const run = spawnWeft(['run', '--control', cp.url, '--service', 'nocmd', 'true']);
  assert.equal(await exitOf(run), 2, run.output().slice(-3000));
  assert.match(run.output(), /WEFT_ERR_CLI_USAGE/);
  const noCommand = spawnWeft(['run', '--control', cp.url, '--service', 'nocmd', '--']);
  assert.equal(await exitOf(noCommand), 2, noCommand.output().slice(-3000));
});
