// Bar (issue 12, item 3): a GRPCRoute is in force in the client sidecar: a call to the service and
// method it matches (`shop.Reviews/Get`) goes to v2, every other call to v1. Real control plane,
// real sidecars, h2c apps (node:http2, gRPC framing by hand) and an h2c client.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { grpcFrame, grpcUnframe, h2Connect, h2Request } from '../support/h2.ts';

interface App {
  readonly port: number;
  close(): Promise<void>;
}

/** An h2c gRPC-style app that names itself: echoes the message, `x-served-by`, grpc-status 0. */
async function startApp(name: string): Promise<App> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/healthz') {
      stream.respond({ ':status': 200 });
      stream.end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-served-by': name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(chunks));
    });
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

let cp: ControlPlaneProcess;
let v1: App;
let v2: App;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  [v1, v2] = await Promise.all([startApp('v1'), startApp('v2')]);
  [, , client] = await Promise.all([
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v1', '--app-port', String(v1.port)]),
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v2', '--app-port', String(v2.port)]),
    startSidecar(cp.url, 'client'),
  ]);
  await waitForPassing(cp, 'reviews', 2);
  const r = await cp.api('POST', '/v1/apply', {
    items: [
      { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v1' }, spec: { selector: { version: 'v1' }, ports: [{ port: 80 }] } },
      { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v2' }, spec: { selector: { version: 'v2' }, ports: [{ port: 80 }] } },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GRPCRoute',
        metadata: { name: 'reviews-get', namespace: 'default' },
        spec: {
          parentRefs: [{ name: 'reviews' }],
          rules: [
            { matches: [{ method: { service: 'shop.Reviews', method: 'Get' } }], backendRefs: [{ name: 'reviews-v2', port: 80 }] },
            { backendRefs: [{ name: 'reviews-v1', port: 80 }] },
          ],
        },
      },
    ],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 3);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  await cp?.cleanup();
});

/** One unary gRPC call through the client sidecar's outbound port. */
async function grpcCall(session: http2.ClientHttp2Session, path: string, message: string) {
  const res = await h2Request(session, { ':method': 'POST', ':path': path, ':authority': 'reviews', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame(Buffer.from(message)));
  return { servedBy: res.headers['x-served-by'], status: res.headers[':status'], grpcStatus: res.trailers?.['grpc-status'], message: grpcUnframe(res.body).toString() };
}

test('GRPCRoute: shop.Reviews/Get goes to v2, other methods and services to v1', { timeout: 60_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    for (let i = 0; i < 5; i++) {
      const get = await grpcCall(session, '/shop.Reviews/Get', `get ${i}`);
      assert.deepEqual(get, { servedBy: 'v2', status: 200, grpcStatus: '0', message: `get ${i}` });
      const list = await grpcCall(session, '/shop.Reviews/List', `list ${i}`);
      assert.deepEqual(list, { servedBy: 'v1', status: 200, grpcStatus: '0', message: `list ${i}` });
      const other = await grpcCall(session, '/shop.Ratings/Get', `other ${i}`);
      assert.equal(other.servedBy, 'v1', 'the same method name of another service is not matched');
    }
  } finally {
    session.close();
  }
});
