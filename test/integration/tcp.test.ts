// Bar: a TCP service (a real redis-server) behind a sidecar is inside the mesh. A client reaches it
// through its own sidecar's TCP upstream listener (--tcp-upstream) speaking raw RESP; the bytes
// cross the two sidecars in mutual TLS (ALPN weft-tcp), half-close passes through, a TCPRoute splits
// connections 50/50 between two redis Services, AuthorizationPolicy is enforced per connection, and
// a STRICT sidecar refuses a plaintext TCP caller.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';

/** One RESP command as an array of bulk strings (the form every redis client sends). */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Length of the first complete RESP reply in `buf` (simple string, error, integer or bulk string), or -1. */
function replyLength(buf: string): number {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return -1;
  if (buf[0] !== '$') return eol + 2;
  const n = Number(buf.slice(1, eol));
  if (n < 0) return eol + 2;
  return buf.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 : -1;
}

interface Reply {
  /** The replies, raw, in order. */
  readonly replies: string[];
  /** How the connection ended: 'end' (FIN after the replies) or 'closed-early' (before every reply came). */
  readonly ended: 'end' | 'closed-early';
}

/**
 * Connects to `port`, sends `commands` (pipelined), then half-closes when `halfClose`; collects a
 * reply per command. A connection the proxy refuses closes (or resets) before the replies.
 */
function talk(port: number, commands: string[], halfClose = false): Promise<Reply> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = '';
    const replies: string[] = [];
    let done = false;
    const finish = (ended: Reply['ended']): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ replies, ended });
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      socket.write(commands.join(''));
      if (halfClose) socket.end();
    });
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (let n = replyLength(buf); n > 0; n = replyLength(buf)) {
        replies.push(buf.slice(0, n));
        buf = buf.slice(n);
      }
      if (replies.length === commands.length && !halfClose) finish('end');
    });
    socket.on('end', () => finish(replies.length === commands.length ? 'end' : 'closed-early'));
    socket.on('error', () => finish('closed-early'));
    socket.on('close', () => finish(replies.length === commands.length ? 'end' : 'closed-early'));
  });
}

interface Redis {
  readonly port: number;
  readonly child: ChildProcess;
}

const redises: Redis[] = [];

async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = { port, child };
  redises.push(redis);
  await waitFor(`redis-server on ${port}`, async () => (await talk(port, [resp('PING')])).replies[0] === '+PONG\r\n');
  return redis;
}

let cp: ControlPlaneProcess;
let redisA: Redis;
let redisB: Redis;
let sidecarA: SidecarProcess;
let sidecarB: SidecarProcess;
let web: SidecarProcess;
/** web's local ports for the upstreams `redis-a:6379` and `redis:6379`. */
let toA: number;
let toSplit: number;

const tcpService = (name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'redis', port: 6379, appProtocol: 'tcp' }] } });

async function apply(...items: unknown[]): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 3);
}

async function inboundTcp(sidecar: SidecarProcess, service: string, security: string, result = 'established'): Promise<number> {
  return metricSample(await adminMetrics(sidecar.adminPort), `weft_proxy_tcp_connections_total{direction="inbound",destination_service="${service}.default",security="${security}",result="${result}"}`);
}

before(async () => {
  cp = await startControlPlane();
  [redisA, redisB] = await Promise.all([startRedis(), startRedis()]);
  // `redis` has no instances of its own: a TCPRoute splits its connections over redis-a and redis-b.
  const r = await cp.api('POST', '/v1/apply', { items: [tcpService('redis-a'), tcpService('redis-b'), tcpService('redis')] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  sidecarA = await startSidecar(cp.url, 'redis-a', ['--app-port', String(redisA.port), '--app-protocol', 'tcp']);
  sidecarB = await startSidecar(cp.url, 'redis-b', ['--app-port', String(redisB.port), '--app-protocol', 'tcp']);
  // Two threads: the TCP listeners are shared with the worker (SO_REUSEPORT), each thread balancing its connections.
  web = await startSidecar(cp.url, 'web', ['--workers', '2', '--tcp-upstream', 'redis-a:6379=0', '--tcp-upstream', 'redis.default:6379=127.0.0.1:0']);
  await Promise.all([waitForPassing(cp, 'redis-a', 1), waitForPassing(cp, 'redis-b', 1)]);
  await waitForInSync(cp, 3);
  const config = (await (await fetch(`http://127.0.0.1:${web.adminPort}/config`)).json()) as { listeners: { tcpUpstreams: Record<string, string> } };
  const local = (key: string): number => Number(String(config.listeners.tcpUpstreams[key]).split(':').pop());
  toA = local('redis-a.default:6379');
  toSplit = local('redis.default:6379');
  // Each redis holds its own name under `who`, written straight to it (outside the mesh).
  await talk(redisA.port, [resp('SET', 'who', 'a')]);
  await talk(redisB.port, [resp('SET', 'who', 'b')]);
});

after(async () => {
  await stopAll();
  for (const r of redises) r.child.kill('SIGKILL');
  await cp?.cleanup();
});

test('a redis client reaches redis through two sidecars in mutual TLS (raw RESP over the TCP upstream listener)', async () => {
  const mtlsBefore = await inboundTcp(sidecarA, 'redis-a', 'mtls');
  const r = await talk(toA, [resp('PING'), resp('SET', 'greeting', 'hello mesh'), resp('GET', 'greeting')]);
  assert.deepEqual(r.replies, ['+PONG\r\n', '+OK\r\n', '$10\r\nhello mesh\r\n']);
  // The write landed in redis-a itself.
  assert.deepEqual((await talk(redisA.port, [resp('GET', 'greeting')])).replies, ['$10\r\nhello mesh\r\n']);
  // The server sidecar took it in mutual TLS and counted the bytes both ways.
  const metrics = await adminMetrics(sidecarA.adminPort);
  assert.equal(metricSample(metrics, 'weft_proxy_tcp_connections_total{direction="inbound",destination_service="redis-a.default",security="mtls",result="established"}'), mtlsBefore + 1);
  // Bytes are counted when the connection closes on both ends of the sidecar.
  await waitFor('inbound TCP bytes counted', async () => {
    const m = await adminMetrics(sidecarA.adminPort);
    return metricSample(m, 'weft_proxy_tcp_bytes_total{direction="inbound",destination_service="redis-a.default",flow="sent"}') > 0 && metricSample(m, 'weft_proxy_tcp_bytes_total{direction="inbound",destination_service="redis-a.default",flow="received"}') > 0;
  });
  assert.ok(metricSample(await adminMetrics(web.adminPort), 'weft_proxy_tcp_connections_total{direction="outbound",destination_service="redis-a.default",security="mtls",result="established"}') >= 1);
});

test('a half-close passes through both sidecars: the reply still comes after the client sends FIN', async () => {
  const r = await talk(toA, [resp('PING'), resp('ECHO', 'after-fin')], true);
  assert.deepEqual(r.replies, ['+PONG\r\n', '$9\r\nafter-fin\r\n']);
  assert.equal(r.ended, 'end');
});

test('QUIT: the reply, then the server closing its side, reach the client as an orderly end', async () => {
  const r = await talk(toA, [resp('QUIT')], true);
  assert.deepEqual(r.replies, ['+OK\r\n']);
  assert.equal(r.ended, 'end');
});

test('a TCPRoute splits connections 50/50 across two redis Services', async () => {
  await apply({
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'TCPRoute',
    metadata: { name: 'redis-split', namespace: 'default' },
    spec: { parentRefs: [{ kind: 'Service', name: 'redis', port: 6379 }], rules: [{ backendRefs: [{ name: 'redis-a', port: 6379, weight: 50 }, { name: 'redis-b', port: 6379, weight: 50 }] }] },
  });
  const counts = { a: 0, b: 0, other: 0 };
  const N = 200;
  for (let i = 0; i < N; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => talk(toSplit, [resp('GET', 'who')])));
    for (const r of batch) {
      if (r.replies[0] === '$1\r\na\r\n') counts.a++;
      else if (r.replies[0] === '$1\r\nb\r\n') counts.b++;
      else counts.other++;
    }
  }
  assert.equal(counts.other, 0, JSON.stringify(counts));
  // 50% ± 12 points over 200 connections: more than 3 standard deviations of a fair split.
  assert.ok(counts.a >= 76 && counts.a <= 124, JSON.stringify(counts));
  // 200 mutual-TLS connections to two endpoints: after each endpoint's first, they resume its TLS session.
  const client = await adminMetrics(web.adminPort);
  assert.ok(metricSample(client, 'weft_proxy_tls_handshakes_total{side="client",resumed="true"}') >= 150, 'TCP connections resume TLS sessions');
  const status = (await cp.api('GET', '/v1/resources/tcproutes/default/redis-split')).body.status;
  assert.deepEqual(status.parents[0].conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
});

test('a TCPRoute backend that does not resolve gets its share of connections refused, and the route status says why', async () => {
  await apply({
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'TCPRoute',
    metadata: { name: 'redis-split', namespace: 'default' },
    spec: { parentRefs: [{ kind: 'Service', name: 'redis', port: 6379 }], rules: [{ backendRefs: [{ name: 'redis-gone', port: 6379 }] }] },
  });
  const refusedBefore = metricSample(await adminMetrics(web.adminPort), 'weft_proxy_tcp_connections_total{direction="outbound",destination_service="redis.default",security="none",result="no-backend"}');
  assert.equal((await talk(toSplit, [resp('PING')])).ended, 'closed-early');
  assert.equal(metricSample(await adminMetrics(web.adminPort), 'weft_proxy_tcp_connections_total{direction="outbound",destination_service="redis.default",security="none",result="no-backend"}'), refusedBefore + 1);
  const status = (await cp.api('GET', '/v1/resources/tcproutes/default/redis-split')).body.status;
  const resolved = status.parents[0].conditions.find((c: { type: string }) => c.type === 'ResolvedRefs');
  assert.equal(resolved.reason, 'BackendNotFound');
});

test('AuthorizationPolicy applies per connection: L4 rules are enforced, a rule with HTTP fields allows no TCP connection', async () => {
  const policy = (rules: unknown) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'redis-a-callers', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'redis-a' }], action: 'ALLOW', rules } });
  const deniedBefore = await inboundTcp(sidecarA, 'redis-a', 'mtls', 'authz-denied');
  await apply(policy([{ from: [{ principals: ['spiffe://weft.local/ns/default/svc/web'] }] }]));
  assert.deepEqual((await talk(toA, [resp('PING')])).replies, ['+PONG\r\n']);
  await apply(policy([{ from: [{ principals: ['spiffe://weft.local/ns/default/svc/web'] }], to: [{ methods: ['GET'] }] }]));
  assert.equal((await talk(toA, [resp('PING')])).ended, 'closed-early');
  await apply(policy([{ from: [{ namespaces: ['elsewhere'] }] }]));
  assert.equal((await talk(toA, [resp('PING')])).ended, 'closed-early');
  assert.equal(await inboundTcp(sidecarA, 'redis-a', 'mtls', 'authz-denied'), deniedBefore + 2);
  const r = await cp.api('DELETE', '/v1/resources/authorizationpolicies/default/redis-a-callers');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 3);
  assert.deepEqual((await talk(toA, [resp('PING')])).replies, ['+PONG\r\n']);
});

test('PERMISSIVE pipes a plaintext TCP caller to the app; STRICT refuses it while mesh connections go on', async () => {
  const plainBefore = await inboundTcp(sidecarA, 'redis-a', 'plaintext');
  assert.deepEqual((await talk(sidecarA.inboundPort!, [resp('PING')])).replies, ['+PONG\r\n']);
  assert.equal(await inboundTcp(sidecarA, 'redis-a', 'plaintext'), plainBefore + 1);
  await apply({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { mtls: { mode: 'STRICT' } } });
  const refusedBefore = metricSample(await adminMetrics(sidecarA.adminPort), 'weft_proxy_inbound_connections_total{security="refused-plaintext"}');
  const plain = await talk(sidecarA.inboundPort!, [resp('PING')]);
  assert.equal(plain.ended, 'closed-early');
  assert.deepEqual(plain.replies, []);
  assert.equal(metricSample(await adminMetrics(sidecarA.adminPort), 'weft_proxy_inbound_connections_total{security="refused-plaintext"}'), refusedBefore + 1);
  assert.deepEqual((await talk(toA, [resp('PING')])).replies, ['+PONG\r\n']);
});
