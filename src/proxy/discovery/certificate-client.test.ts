// The sidecar's certificate client against a CA that stands in for the control plane (real HTTP,
// real certificates from an openssl CA): first certificate, renewal at half life on the injected
// clock, retry after a failure, and every answer it must refuse.

import 'reflect-metadata';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import * as x509 from '@peculiar/x509';
import type { CertificateApiRequest, IssuedCertificate } from '../../config/identity.ts';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { checkIssued, startCertificateClient } from './certificate-client.ts';
import { createControlTarget } from './control-target.ts';
import type { Credentials } from '../transport/mesh-tls.ts';
import { createTestCa } from '../../../test/support/test-ca.ts';

const ORDERS = 'spiffe://weft.local/ns/default/svc/orders';
const node: NodeInfo = { id: 'orders-1', service: 'orders', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' };
const ca = createTestCa();
after(() => ca.remove());

interface FakeCa {
  readonly url: string;
  /** Each request, with the public key of its CSR (whose signature was verified). */
  readonly requests: (CertificateApiRequest & { publicKey: string })[];
  failWith: number | undefined;
  close(): void;
}

/** Certifies the key of the CSR it is sent for 60 s of the manual clock's time. */
async function startFakeCa(clock: ManualClock): Promise<FakeCa> {
  const state: FakeCa = { url: '', requests: [], failWith: undefined, close: () => server.close() };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', async () => {
      if (state.failWith) return void res.writeHead(state.failWith).end('{"error":{"message":"CA down"}}');
      const raw = JSON.parse(body) as CertificateApiRequest;
      const csr = new x509.Pkcs10CertificateRequest(raw.csr!);
      assert.ok(await csr.verify(), 'the CSR is signed by its own key');
      const request = { ...raw, publicKey: createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string };
      state.requests.push(request);
      const leaf = ca.issue(`URI:${ORDERS}`, request.publicKey);
      const issued: IssuedCertificate = { identity: ORDERS, certificate: leaf.cert, trustBundle: ca.rootPem, notBefore: clock.now(), notAfter: clock.now() + 60_000, serial: String(state.requests.length) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issued));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** The next credentials the client delivers. */
function collector(): { next(): Promise<Credentials>; onCredentials(c: Credentials): void } {
  const waiting: ((c: Credentials) => void)[] = [];
  const ready: Credentials[] = [];
  return {
    next: () => new Promise((resolve) => (ready.length ? resolve(ready.shift()!) : waiting.push(resolve))),
    onCredentials: (c) => (waiting.length ? waiting.shift()!(c) : ready.push(c)),
  };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

test('gets a certificate for a fresh key and renews it, with a new key, at half its life', async () => {
  const clock = new ManualClock();
  const fake = await startFakeCa(clock);
  const got = collector();
  const client = startCertificateClient({ controlUrl: fake.url, node, clock, log: createLogger('test', () => {}), onCredentials: got.onCredentials });
  try {
    const first = await got.next();
    assert.equal(first.identity, ORDERS);
    assert.deepEqual(fake.requests.map((r) => [r.service, r.namespace, r.proxyId]), [['orders', 'default', 'orders-1']]);
    assert.ok(createPublicKey(fake.requests[0]!.publicKey).equals(createPublicKey(first.key)), 'the key sent is the key kept');
    clock.advance(29_000);
    await settle();
    assert.equal(fake.requests.length, 1, 'not renewed before half its life');
    clock.advance(1_000);
    const second = await got.next();
    assert.equal(second.serial, '2');
    assert.notEqual(second.key, first.key, 'every renewal makes a new key');
    assert.equal(client.current(), second);
  } finally {
    client.stop();
    fake.close();
  }
});

test('a failed request is retried with backoff, and says why meanwhile', async () => {
  const clock = new ManualClock();
  const fake = await startFakeCa(clock);
  fake.failWith = 503;
  const got = collector();
  const client = startCertificateClient({ controlUrl: fake.url, node, clock, log: createLogger('test', () => {}), onCredentials: got.onCredentials });
  try {
    await waitUntil(() => client.lastError() !== undefined);
    assert.match(client.lastError()!, /the CA answered 503/);
    assert.equal(client.current(), undefined);
    fake.failWith = undefined;
    clock.advance(30_000); // past any backoff
    assert.equal((await got.next()).identity, ORDERS);
    assert.equal(client.lastError(), undefined);
  } finally {
    client.stop();
    fake.close();
  }
});

test('a replica that answers 503 (or 404, 502, 504) sends the next request to the next --control URL', async () => {
  for (const status of [503, 404]) {
    const clock = new ManualClock();
    const down = await startFakeCa(clock);
    down.failWith = status;
    const up = await startFakeCa(clock);
    const control = createControlTarget({ urls: [down.url, up.url], random: () => 0 });
    const got = collector();
    const client = startCertificateClient({ controlUrl: down.url, control, node, clock, log: createLogger('test', () => {}), onCredentials: got.onCredentials });
    try {
      await waitUntil(() => client.lastError() !== undefined);
      assert.equal(control.current(), up.url, `moved on after ${status}`);
      clock.advance(30_000); // past any backoff
      assert.equal((await got.next()).identity, ORDERS);
      assert.equal(up.requests.length, 1);
    } finally {
      client.stop();
      down.close();
      up.close();
    }
  }
});

test('a refusal that is the caller\'s own (400) stays on the same replica', async () => {
  const clock = new ManualClock();
  const fake = await startFakeCa(clock);
  fake.failWith = 400;
  const other = await startFakeCa(clock);
  const control = createControlTarget({ urls: [fake.url, other.url], random: () => 0 });
  const client = startCertificateClient({ controlUrl: fake.url, control, node, clock, log: createLogger('test', () => {}), onCredentials: () => {} });
  try {
    await waitUntil(() => client.lastError() !== undefined);
    assert.equal(control.current(), fake.url);
  } finally {
    client.stop();
    fake.close();
    other.close();
  }
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await settle();
  assert.ok(condition(), 'condition never held');
}

test('checkIssued refuses a certificate for another service, another key, another CA or another SAN', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const good = ca.issue(`URI:${ORDERS}`, publicPem);
  const issued: IssuedCertificate = { identity: ORDERS, certificate: good.cert, trustBundle: ca.rootPem, notBefore: 0, notAfter: 0, serial: '1' };
  const now = Date.now();
  assert.doesNotThrow(() => checkIssued(issued, node, pair.publicKey, now));

  assert.throws(() => checkIssued({ ...issued, identity: 'spiffe://weft.local/ns/default/svc/payments' }, node, pair.publicKey, now), /not one for orders in default/);
  assert.throws(() => checkIssued(issued, node, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey, now), /not for the key this sidecar sent/);
  const other = createTestCa('another root');
  try {
    assert.throws(() => checkIssued({ ...issued, trustBundle: other.rootPem }, node, pair.publicKey, now), /not signed by the trust bundle/);
  } finally {
    other.remove();
  }
  const wrongSan = ca.issue('URI:spiffe://weft.local/ns/default/svc/payments', publicPem);
  assert.throws(() => checkIssued({ ...issued, certificate: wrongSan.cert }, node, pair.publicKey, now), /SAN .* does not name/);
  assert.throws(() => checkIssued({ ...issued, trustBundle: '' }, node, pair.publicKey, now), /holds no certificate/);
});

test('a trust announcement renews at once when the roots or the issuer differ, and only then', async () => {
  const clock = new ManualClock();
  const fake = await startFakeCa(clock);
  const got = collector();
  const client = startCertificateClient({ controlUrl: fake.url, node, clock, log: createLogger('test', () => {}), onCredentials: got.onCredentials });
  const other = createTestCa('next root');
  try {
    await got.next();
    // What it holds already: nothing to do.
    client.trustChanged({ trustBundle: ca.rootPem, issuer: ca.rootPem });
    clock.advance(1_000);
    await settle();
    assert.equal(fake.requests.length, 1);
    // Phase 1 of a rotation: a second root joins the bundle.
    client.trustChanged({ trustBundle: ca.rootPem + other.rootPem, issuer: ca.rootPem });
    clock.advance(500);
    await got.next();
    assert.equal(fake.requests.length, 2);
    // The fake CA still answers with one root: the same announcement does not make it ask again and again.
    clock.advance(1_000);
    await settle();
    assert.equal(fake.requests.length, 2);
    // Phase 2: another issuer (the leaf it holds is not from it): renew again.
    client.trustChanged({ trustBundle: ca.rootPem, issuer: other.rootPem });
    clock.advance(500);
    await got.next();
    assert.equal(fake.requests.length, 3);
  } finally {
    client.stop();
    fake.close();
    other.remove();
  }
});

test('checkIssued follows a chain through an intermediate to the bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-chain-'));
  try {
    const file = (f: string): string => join(dir, f);
    const run = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const k of ['root', 'inter', 'leaf']) run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(`${k}.key`));
    run('req', '-x509', '-new', '-key', file('root.key'), '-subj', '/CN=root', '-days', '1', '-out', file('root.pem'));
    run('req', '-new', '-key', file('inter.key'), '-subj', '/CN=inter', '-out', file('inter.csr'));
    writeFileSync(file('inter.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
    run('x509', '-req', '-in', file('inter.csr'), '-CA', file('root.pem'), '-CAkey', file('root.key'), '-CAcreateserial', '-days', '1', '-extfile', file('inter.ext'), '-out', file('inter.pem'));
    run('req', '-new', '-key', file('leaf.key'), '-subj', '/CN=leaf', '-out', file('leaf.csr'));
    writeFileSync(file('leaf.ext'), `subjectAltName=URI:${ORDERS}\nbasicConstraints=critical,CA:FALSE\n`);
    run('x509', '-req', '-in', file('leaf.csr'), '-CA', file('inter.pem'), '-CAkey', file('inter.key'), '-CAcreateserial', '-days', '1', '-extfile', file('leaf.ext'), '-out', file('leaf.pem'));
    const read = (f: string): string => readFileSync(file(f), 'utf8');
    const publicKey = createPublicKey(read('leaf.key'));
    const issued: IssuedCertificate = { identity: ORDERS, certificate: read('leaf.pem') + read('inter.pem'), trustBundle: read('root.pem'), notBefore: 0, notAfter: 0, serial: '1' };
    assert.doesNotThrow(() => checkIssued(issued, node, publicKey, Date.now()));
    assert.throws(() => checkIssued({ ...issued, certificate: read('leaf.pem') }, node, publicKey, Date.now()), /not signed by the trust bundle/);
    assert.throws(() => checkIssued({ ...issued, certificate: read('leaf.pem') + read('root.pem') }, node, publicKey, Date.now()), /not issued by certificate 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
