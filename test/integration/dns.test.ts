// Bar: `weft control --dns-listen` answers dig and Node's resolver with the healthy instances'
// addresses (A/AAAA) and ports (SRV) over UDP and TCP; an instance whose health check fails or whose
// TTL lapses leaves the answer within its check interval; NXDOMAIN, NODATA and REFUSED as RFC 1035/2308 say.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import { metricSample, startControlPlane, type ControlPlaneProcess } from '../support/mesh.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';

const run = promisify(execFile);
let cp: ControlPlaneProcess;
let dnsPort: number;
const healthServers: Server[] = [];
const heartbeats = new Set<NodeJS.Timeout>();

interface Dig {
  status: string;
  flags: string[];
  /** Answer section records: [name, ttl, class, type, ...data]. */
  answers: string[][];
  authority: string[][];
  additional: string[][];
}

/** Runs dig against weft's DNS port and parses its status line and sections. */
async function dig(...args: string[]): Promise<Dig> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+time=3', '+tries=2', ...args], { timeout: 20_000 });
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? '';
  const flags = (/;; flags: ([^;]*);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const sections: Record<string, string[][]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^;; (\w+) SECTION:/.exec(line);
    if (head) current = head[1];
    else if (line.trim() === '' || line.startsWith(';')) {
      if (line.trim() === '') current = undefined;
    } else if (current && sections[current]) sections[current].push(line.trim().split(/\s+/));
  }
  return { status, flags, answers: sections.ANSWER, authority: sections.AUTHORITY, additional: sections.ADDITIONAL };
}

const addresses = (d: Dig): string[] => d.answers.map((r) => r[4]).sort();

/** A local HTTP server that answers health checks 200 until closed. */
async function healthServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((_req, res) => res.end('ok'));
  healthServers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

async function register(body: Record<string, unknown>): Promise<void> {
  const res = await cp.api('POST', '/v1/catalog/instances', { ttlSeconds: 0, ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

before(async () => {
  try {
    await run('dig', ['-v']);
  } catch {
    throw new Error('dig is missing: install Debian\'s dnsutils (.ci/run does)');
  }
  dnsPort = await freePort();
  cp = await startControlPlane(['--dns-listen', `127.0.0.1:${dnsPort}`, '--dns-ttl', '2']);
});

after(async () => {
  for (const t of heartbeats) clearInterval(t);
  await stopAll();
  await Promise.all(healthServers.map((s) => new Promise((r) => s.close(r))));
  await cp?.cleanup();
});

test('dig and Node\'s resolver get the healthy instances; the failing check and the lapsed TTL leave the answer', async () => {
  const h1 = await healthServer();
  const h2 = await healthServer();
  const check = (port: number) => [{ type: 'http', host: '127.0.0.1', port, path: '/health', intervalSeconds: 1, timeoutSeconds: 1 }];
  await register({ service: 'reviews', id: 'reviews-1', address: '10.10.0.1', ports: [{ port: 80, targetPort: 9081, name: 'http' }], labels: { version: 'v1' }, checks: check(h1.port) });
  await register({ service: 'reviews', id: 'reviews-2', address: '10.10.0.2', ports: [{ port: 80, targetPort: 9082, name: 'http' }], labels: { version: 'v2' }, checks: check(h2.port) });
  // reviews-3 heartbeats (TTL 3 s) until the test stops it.
  await register({ service: 'reviews', id: 'reviews-3', address: '10.10.0.3', ports: [{ port: 80, targetPort: 9083, name: 'http' }], labels: { version: 'v2' }, ttlSeconds: 3 });
  const beat = setInterval(() => void cp.api('PUT', '/v1/catalog/instances/default/reviews/reviews-3/heartbeat').catch(() => {}), 500);
  heartbeats.add(beat);
  await register({ service: 'ratings', id: 'ratings-1', address: 'fd00::7', port: 9090 });

  const all = ['10.10.0.1', '10.10.0.2', '10.10.0.3'];
  await waitFor('three passing reviews instances in DNS', async () => JSON.stringify(addresses(await dig('reviews.default.svc.cluster.local'))) === JSON.stringify(all));
  const a = await dig('reviews.default.svc.cluster.local');
  assert.equal(a.status, 'NOERROR');
  assert.ok(a.flags.includes('aa'), a.flags.join(' '));
  assert.ok(a.answers.every((r) => r[1] === '2' && r[3] === 'A'), JSON.stringify(a.answers)); // --dns-ttl 2
  // Over TCP, in the search-path form and Consul's form: the same addresses.
  assert.deepEqual(addresses(await dig('+tcp', 'reviews.default.svc.cluster.local')), all);
  assert.deepEqual(addresses(await dig('reviews.default')), all);
  assert.deepEqual(addresses(await dig('reviews.service.consul')), all);
  assert.deepEqual(addresses(await dig('v2.reviews.service.consul')), ['10.10.0.2', '10.10.0.3']);

  // SRV: the instances' ports, each target resolvable in the additional section.
  const srv = await dig('SRV', 'reviews.default.svc.cluster.local');
  assert.deepEqual(srv.answers.map((r) => r[6]).sort(), ['9081', '9082', '9083']);
  const glue = new Map(srv.additional.filter((r) => r[3] === 'A').map((r) => [r[0], r[4]]));
  for (const r of srv.answers) {
    assert.ok(glue.has(r[7]), `glue for ${r[7]}`);
    assert.deepEqual(addresses(await dig(r[7])), [glue.get(r[7])]);
  }
  assert.deepEqual((await dig('+tcp', 'SRV', '_http._tcp.reviews.default.svc.cluster.local')).answers.length, 3);

  // Node's resolver (c-ares) pointed at weft.
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  assert.deepEqual((await resolver.resolve4('reviews.default.svc.cluster.local')).sort(), all);
  assert.deepEqual((await resolver.resolveSrv('reviews.service.consul')).map((s) => s.port).sort(), [9081, 9082, 9083]);
  assert.deepEqual(await resolver.resolve6('ratings.default.svc.cluster.local'), ['fd00::7']);

  // reviews-1's health check starts failing: it leaves the answer within its check interval
  // (1 s; the bound is generous for a loaded machine), reviews-2 and -3 stay.
  await h1.close();
  const t0 = Date.now();
  await waitFor('reviews-1 out of DNS', async () => JSON.stringify(addresses(await dig('reviews.default.svc.cluster.local'))) === JSON.stringify(['10.10.0.2', '10.10.0.3']), 20_000, 200);
  const checkMs = Date.now() - t0;
  assert.ok(checkMs < 10_000, `reviews-1 left DNS ${checkMs} ms after its check started failing (interval 1 s)`);
  assert.deepEqual((await dig('SRV', 'reviews.default.svc.cluster.local')).answers.map((r) => r[6]).sort(), ['9082', '9083']);
  await assert.rejects(resolver.resolve4('reviews-1.reviews.default.svc.cluster.local'), { code: 'ENODATA' }); // exists, not healthy

  // reviews-3 stops heartbeating: it leaves once its 3 s TTL lapses.
  clearInterval(beat);
  const t1 = Date.now();
  await waitFor('reviews-3 out of DNS', async () => JSON.stringify(addresses(await dig('reviews.default.svc.cluster.local'))) === JSON.stringify(['10.10.0.2']), 20_000, 200);
  const ttlMs = Date.now() - t1;
  process.stdout.write(`# failing check left DNS after ${checkMs} ms (interval 1 s); lapsed TTL after ${ttlMs} ms (TTL 3 s)\n`);
  assert.ok(ttlMs >= 1000, `reviews-3 left after ${ttlMs} ms, before its TTL could lapse`);

  // Everything critical: the name still exists (NODATA), and comes back with its instance.
  await h2.close();
  await waitFor('reviews NODATA', async () => (await dig('reviews.default.svc.cluster.local')).answers.length === 0, 20_000, 200);
  const empty = await dig('reviews.default.svc.cluster.local');
  assert.equal(empty.status, 'NOERROR');
  assert.equal(empty.authority[0]?.[3], 'SOA');
});

test('negative answers: NXDOMAIN and NODATA with the SOA, REFUSED outside weft\'s zones', async () => {
  await register({ service: 'details', id: 'details-1', address: '10.20.0.1', port: 9080 });
  await waitFor('details in DNS', async () => (await dig('details.default.svc.cluster.local')).answers.length === 1);
  const nx = await dig('nope.default.svc.cluster.local');
  assert.equal(nx.status, 'NXDOMAIN');
  assert.deepEqual(nx.authority.map((r) => [r[0], r[3]]), [['cluster.local.', 'SOA']]);
  assert.equal((await dig('nope.service.consul')).status, 'NXDOMAIN');
  assert.equal((await dig('details.nowhere.svc.cluster.local')).status, 'NXDOMAIN');
  const nodata = await dig('AAAA', 'details.default.svc.cluster.local');
  assert.equal(nodata.status, 'NOERROR');
  assert.equal(nodata.answers.length, 0);
  assert.deepEqual(nodata.authority.map((r) => r[3]), ['SOA']);
  // A Service resource answers by its selector, at once (the store's change feed, no restart).
  await register({ service: 'details', id: 'details-2', address: '10.20.0.2', port: 9081, labels: { version: 'v2' } });
  const applied = await cp.api('POST', '/v1/apply', { items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'details-v2' }, spec: { selector: { app: 'details', version: 'v2' }, ports: [{ name: 'http', port: 80 }] } }] });
  assert.ok(applied.status < 300, JSON.stringify(applied.body));
  await waitFor('details-v2 in DNS', async () => JSON.stringify(addresses(await dig('details-v2.default.svc.cluster.local'))) === JSON.stringify(['10.20.0.2']));
  assert.deepEqual((await dig('SRV', '_http._tcp.details-v2.default.svc.cluster.local')).answers.map((r) => r[6]), ['9081']);

  const refused = await dig('example.com');
  assert.equal(refused.status, 'REFUSED');
  assert.equal(refused.answers.length, 0);
  // Two questions: dig cannot send them, so the handler's FORMERR is covered by unit tests; an
  // unsupported opcode is something dig can send.
  assert.equal((await dig('+opcode=status', 'details.default.svc.cluster.local')).status, 'NOTIMP');
});

test('UDP truncation: an answer over 512 bytes comes back with TC, and dig gets all of it over TCP', async () => {
  for (let i = 1; i <= 40; i++) await register({ service: 'big', id: `big-${i}`, address: `10.30.0.${i}`, port: 9000 + i });
  await waitFor('40 big instances in DNS', async () => (await dig('+tcp', 'big.default.svc.cluster.local')).answers.length === 40);
  const udp = await dig('+noedns', '+ignore', 'SRV', 'big.default.svc.cluster.local');
  assert.ok(udp.flags.includes('tc'), udp.flags.join(' '));
  assert.ok(udp.answers.length < 40);
  const retried = await dig('SRV', 'big.default.svc.cluster.local'); // dig retries over TCP on TC
  assert.equal(retried.answers.length, 40);
  assert.ok(!retried.flags.includes('tc'));

  const text = await (await fetch(`${cp.url}/metrics`)).text();
  assert.ok(metricSample(text, 'weft_control_dns_queries_total{type="A",rcode="NOERROR"}') > 10);
  assert.ok(metricSample(text, 'weft_control_dns_queries_total{type="SRV",rcode="NOERROR"}') >= 3);
  assert.ok(metricSample(text, 'weft_control_dns_queries_total{type="A",rcode="NXDOMAIN"}') >= 2);
  assert.ok(metricSample(text, 'weft_control_dns_queries_total{type="A",rcode="REFUSED"}') >= 1);
  assert.ok(metricSample(text, 'weft_control_dns_queries_total{type="none",rcode="NOTIMP"}') >= 1);
});
