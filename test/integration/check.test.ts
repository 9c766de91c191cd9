// Bar (issue 15 item 6, `weft check`): proxies that reject their config or are stale are flagged,
// with the version and the errors, as are services whose instances are all unhealthy. The proxies
// here are real streams to a real control plane that answer NACK, or never answer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startControlPlane, type ControlPlaneProcess } from '../support/mesh.ts';
import { waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';

let cp: ControlPlaneProcess;
const streams: http.ClientRequest[] = [];

before(async () => {
  cp = await startControlPlane();
});

after(async () => {
  for (const s of streams) s.destroy();
  await cp?.cleanup();
});

/** A stream as a proxy would open it (with the admin token), answering each snapshot with `answer` (or nothing). */
function fakeProxy(id: string, answer: 'nack' | 'none'): void {
  const req = http.request(`${cp.url}/v1/stream`, { method: 'POST', headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/x-ndjson' } });
  streams.push(req);
  req.on('error', () => {});
  req.on('response', (res) => {
    let pending = '';
    res.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const msg = JSON.parse(pending.slice(0, nl)) as { type: string; snapshot?: { version: string } };
        pending = pending.slice(nl + 1);
        if (msg.type === 'snapshot' && answer === 'nack') req.write(JSON.stringify({ type: 'nack', version: msg.snapshot!.version, errors: [{ path: 'services[0].port', message: 'not what this proxy expects' }] }) + '\n');
      }
    });
  });
  req.write(JSON.stringify({ type: 'hello', node: { id, service: 'ghost', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' } }) + '\n');
}

test('weft check flags a proxy rejecting its config, a stale one, and a service with no healthy instance', async () => {
  assert.equal((await runWeft(['check'], { control: cp.url })).code, 0, 'all is well at first');
  fakeProxy('ghost-nack', 'nack');
  fakeProxy('ghost-silent', 'none');
  // An instance that never heartbeats goes critical after its TTL.
  const reg = await cp.api('POST', '/v1/catalog/instances', { service: 'lonely', id: 'lonely-1', address: '127.0.0.1', ports: [{ port: 80, targetPort: 9, name: 'http', protocol: 'http' }], ttlSeconds: 1 });
  assert.ok(reg.status === 201 || reg.status === 200, JSON.stringify(reg.body));
  const findings = await waitFor('check to flag all three', async () => {
    const r = await runWeft(['check', '-o', 'json'], { control: cp.url });
    const f = (JSON.parse(r.stdout) as { findings: { check: string; subject: string; problem: string }[] }).findings;
    return r.code === 1 && f.filter((x) => x.check === 'proxy-config').length === 2 && f.some((x) => x.check === 'service-health') ? f : undefined;
  }, 30_000, 500);
  const nack = findings.find((f) => f.subject === 'ghost-nack')!;
  assert.match(nack.problem, /^rejects config v\d+ \(keeps serving v-\): services\[0\]\.port: not what this proxy expects/);
  assert.match(findings.find((f) => f.subject === 'ghost-silent')!.problem, /^stale: acknowledged v-, the current config is v\d+/);
  assert.match(findings.find((f) => f.check === 'service-health')!.subject, /^lonely\.default$/);
  const table = await runWeft(['check'], { control: cp.url });
  assert.match(table.stdout, /^PROXY-CONFIG\s+ghost-nack: rejects config/m);
  assert.match(table.stdout, /^SERVICE-HEALTH\s+lonely\.default: none of its 1 instance\(s\) is healthy/m);
});
