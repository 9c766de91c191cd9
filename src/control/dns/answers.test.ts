import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildAnswer } from './answers.ts';
import { CatalogDnsView } from './catalog-view.ts';
import { instance, rdata, TestSource } from './fixtures.ts';
import type { Answer } from 'dns-packet';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { Catalog } from '../catalog/catalog.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { validateRegistration } from '../../config/registration.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { openDnsSource } from './service-source.ts';

const ttl = { ttlSeconds: 5 };
const data = (a: { answers: readonly Answer[] }) => a.answers.map(rdata);

function mesh() {
  const source = new TestSource([
    instance({ id: 'r1', address: '10.0.0.1', ports: [{ port: 80, targetPort: 9001, name: 'http' }, { port: 9090, targetPort: 9901, name: 'metrics' }], labels: { version: 'v1' } }),
    instance({ id: 'r2', address: '10.0.0.2', ports: [{ port: 80, targetPort: 9002, name: 'http' }], labels: { version: 'v2', tags: 'canary, EU' }, weight: 3 }),
    instance({ id: 'r3', address: '10.0.0.3', port: 9003, labels: { version: 'v2' } }, 'critical'),
    instance({ id: 'r4', address: '10.0.0.4', port: 9004 }, 'warning'),
    instance({ id: 'v6:1', address: 'fd00::6', port: 9006, namespace: 'shop' }),
    instance({ id: 'ratings-1', service: 'ratings', address: '10.0.1.1', port: 9080 }, 'critical'),
    // Two instances on one host and port: one A record.
    instance({ id: 'd1', service: 'details', address: '10.0.2.1', port: 9080 }),
    instance({ id: 'd2', service: 'details', address: '10.0.2.1', port: 9080 }),
    instance({ id: 'ext', service: 'legacy', address: 'legacy.example.com', port: 443 }),
  ]);
  return { source, view: new CatalogDnsView(source, 1000) };
}

test('A answers the healthy (passing and warning) instances, deduplicated, with the TTL', () => {
  const { view } = mesh();
  const a = buildAnswer('reviews.default.svc.cluster.local', 'A', view, ttl);
  assert.equal(a.rcode, 'NOERROR');
  assert.ok(a.authoritative);
  assert.deepEqual(data(a), ['10.0.0.1', '10.0.0.2', '10.0.0.4']);
  assert.ok(a.answers.every((r) => r.type === 'A' && r.name === 'reviews.default.svc.cluster.local' && (r as { ttl: number }).ttl === 5));
  assert.deepEqual(data(buildAnswer('details.default.svc.cluster.local', 'A', view, ttl)), ['10.0.2.1']);
  // The search-path form and the Consul form answer the same set.
  assert.deepEqual(data(buildAnswer('reviews.default', 'A', view, ttl)), ['10.0.0.1', '10.0.0.2', '10.0.0.4']);
  assert.deepEqual(data(buildAnswer('reviews.service.consul', 'A', view, ttl)), ['10.0.0.1', '10.0.0.2', '10.0.0.4']);
  // The owner name keeps the question's spelling.
  assert.equal(buildAnswer('Reviews.Default.SVC.cluster.local.', 'A', view, ttl).answers[0].name, 'Reviews.Default.SVC.cluster.local');
});

test('rotation spreads which address comes first', () => {
  const { view } = mesh();
  const firsts = [0, 1, 2, 3].map((rotation) => data(buildAnswer('reviews.default.svc.cluster.local', 'A', view, { ttlSeconds: 5, rotation }))[0]);
  assert.deepEqual(firsts, ['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.1']);
});

test('AAAA answers IPv6 instances; AAAA of an IPv4-only service is NODATA with the SOA', () => {
  const { view } = mesh();
  assert.deepEqual(data(buildAnswer('reviews.shop.svc.cluster.local', 'AAAA', view, ttl)), ['fd00::6']);
  const nodata = buildAnswer('reviews.default.svc.cluster.local', 'AAAA', view, ttl);
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities.length, 1);
  const soa = nodata.authorities[0] as { name: string; type: string; ttl: number; data: { minimum: number; serial: number } };
  assert.equal(soa.type, 'SOA');
  assert.equal(soa.name, 'cluster.local');
  assert.equal(soa.ttl, 5);
  assert.equal(soa.data.minimum, 5);
  assert.equal(soa.data.serial, 1000);
  // Other types on a service: NODATA too.
  assert.equal(buildAnswer('reviews.default.svc.cluster.local', 'TXT', view, ttl).answers.length, 0);
});

test('SRV: one record per healthy instance port, targets resolvable in the additional section', () => {
  const { view } = mesh();
  const a = buildAnswer('reviews.default.svc.cluster.local', 'SRV', view, ttl);
  assert.deepEqual(data(a), [
    { priority: 0, weight: 1, port: 9001, target: 'r1.reviews.default.svc.cluster.local' },
    { priority: 0, weight: 1, port: 9901, target: 'r1.reviews.default.svc.cluster.local' },
    { priority: 0, weight: 3, port: 9002, target: 'r2.reviews.default.svc.cluster.local' },
    { priority: 0, weight: 1, port: 9004, target: 'r4.reviews.default.svc.cluster.local' },
  ]);
  assert.deepEqual(a.additionals.map((r) => [r.name, r.type, rdata(r)]), [
    ['r1.reviews.default.svc.cluster.local', 'A', '10.0.0.1'],
    ['r2.reviews.default.svc.cluster.local', 'A', '10.0.0.2'],
    ['r4.reviews.default.svc.cluster.local', 'A', '10.0.0.4'],
  ]);
  // Every target answers A itself.
  for (const r of a.additionals) assert.deepEqual(data(buildAnswer(r.name, 'A', view, ttl)), [rdata(r)]);
  // A named port (RFC 2782 / Kubernetes) keeps that port only; its name has no A records. As in the
  // mesh, an instance with a single port serves every port of its service with it (r2, r4).
  assert.deepEqual(data(buildAnswer('_metrics._tcp.reviews.default.svc.cluster.local', 'SRV', view, ttl)), [
    { priority: 0, weight: 1, port: 9901, target: 'r1.reviews.default.svc.cluster.local' },
    { priority: 0, weight: 3, port: 9002, target: 'r2.reviews.default.svc.cluster.local' },
    { priority: 0, weight: 1, port: 9004, target: 'r4.reviews.default.svc.cluster.local' },
  ]);
  assert.deepEqual(data(buildAnswer('_http._tcp.reviews.default.svc.cluster.local', 'SRV', view, ttl)).map((d) => d.port), [9001, 9002, 9004]);
  assert.equal(buildAnswer('_metrics._tcp.reviews.default.svc.cluster.local', 'A', view, ttl).answers.length, 0);
  assert.equal(buildAnswer('_nope._tcp.reviews.default.svc.cluster.local', 'SRV', view, ttl).rcode, 'NXDOMAIN');
  // Shared host and port: each instance keeps its own target, and the glue names the one address twice.
  const details = buildAnswer('details.default.svc.cluster.local', 'SRV', view, ttl);
  assert.deepEqual(details.answers.map((r) => rdata(r).target), ['d1.details.default.svc.cluster.local', 'd2.details.default.svc.cluster.local']);
  assert.deepEqual(details.additionals.map((r) => rdata(r)), ['10.0.2.1', '10.0.2.1']);
  // IPv6 instance whose id is not a DNS label: named by its address.
  const v6 = buildAnswer('reviews.shop', 'SRV', view, ttl);
  assert.deepEqual(data(v6), [{ priority: 0, weight: 1, port: 9006, target: 'fd00--6.reviews.shop' }]);
  assert.deepEqual(v6.additionals.map((r) => [r.type, rdata(r)]), [['AAAA', 'fd00::6']]);
  // A host-name instance: the SRV target is its host name, no glue, no A record.
  const legacy = buildAnswer('legacy.default.svc.cluster.local', 'SRV', view, ttl);
  assert.deepEqual(data(legacy), [{ priority: 0, weight: 1, port: 443, target: 'legacy.example.com' }]);
  assert.equal(legacy.additionals.length, 0);
  assert.equal(buildAnswer('legacy.default.svc.cluster.local', 'A', view, ttl).answers.length, 0);
});

test('Consul: tags are the version label and the tags label values; SRV targets are HEX.addr.consul', () => {
  const { view } = mesh();
  assert.deepEqual(data(buildAnswer('v2.reviews.service.consul', 'A', view, ttl)), ['10.0.0.2']); // r3 (v2) is critical
  assert.deepEqual(data(buildAnswer('canary.reviews.service.consul', 'A', view, ttl)), ['10.0.0.2']);
  assert.deepEqual(data(buildAnswer('eu.reviews.service.consul', 'A', view, ttl)), ['10.0.0.2']);
  assert.equal(buildAnswer('v9.reviews.service.consul', 'A', view, ttl).rcode, 'NXDOMAIN');
  const srv = buildAnswer('v1.reviews.service.consul', 'SRV', view, ttl);
  assert.deepEqual(srv.answers.map((r) => rdata(r).target), ['0a000001.addr.consul', '0a000001.addr.consul']);
  assert.deepEqual(srv.additionals.map((r) => [r.name, rdata(r)]), [['0a000001.addr.consul', '10.0.0.1']]);
  assert.deepEqual(data(buildAnswer('0a000001.addr.consul', 'A', view, ttl)), ['10.0.0.1']);
  assert.deepEqual(data(buildAnswer('reviews.service.shop.ns.consul', 'AAAA', view, ttl)), ['fd00::6']);
});

test('negative answers: NXDOMAIN for missing names, NODATA for names with nothing healthy, REFUSED outside the zones', () => {
  const { view } = mesh();
  for (const [name, zone] of [['nope.default.svc.cluster.local', 'cluster.local'], ['reviews.nowhere.svc.cluster.local', 'cluster.local'], ['nope.service.consul', 'consul'], ['nope.default', 'default'], ['zz.reviews.default.svc.cluster.local', 'cluster.local']]) {
    const a = buildAnswer(name, 'A', view, ttl);
    assert.equal(a.rcode, 'NXDOMAIN', name);
    assert.deepEqual(a.authorities.map((r) => [r.type, r.name]), [['SOA', zone]], name);
  }
  // Every instance critical: the name still exists.
  const down = buildAnswer('ratings.default.svc.cluster.local', 'A', view, ttl);
  assert.equal(down.rcode, 'NOERROR');
  assert.equal(down.answers.length, 0);
  assert.equal(down.authorities[0].type, 'SOA');
  assert.equal(buildAnswer('r3.reviews.default.svc.cluster.local', 'A', view, ttl).answers.length, 0);
  // Names that exist because names below them do (RFC 8020) are NODATA, never NXDOMAIN.
  for (const name of ['svc.cluster.local', 'default.svc.cluster.local', '_tcp.reviews.default.svc.cluster.local', 'service.consul']) {
    const a = buildAnswer(name, 'A', view, ttl);
    assert.equal(a.rcode, 'NOERROR', name);
    assert.equal(a.answers.length, 0, name);
  }
  const soa = buildAnswer('cluster.local', 'SOA', view, ttl);
  assert.deepEqual(soa.answers.map((r) => r.type), ['SOA']);
  const refused = buildAnswer('example.com', 'A', view, ttl);
  assert.deepEqual(refused, { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] });
});

test('a catalog change shows in the next answer, and moves the SOA serial', () => {
  const { source, view } = mesh();
  assert.deepEqual(data(buildAnswer('ratings.default.svc.cluster.local', 'A', view, ttl)), []);
  source.set([...source.list().filter((i) => i.service !== 'ratings'), instance({ id: 'ratings-1', service: 'ratings', address: '10.0.1.1', port: 9080 }, 'passing')]);
  assert.deepEqual(data(buildAnswer('ratings.default.svc.cluster.local', 'A', view, ttl)), ['10.0.1.1']);
  assert.equal(view.serial(), 1001);
});

test('over the real catalog and store: a TTL lapse removes the instance from the next answer; Service resources answer by their selector and port names', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-dns-'));
  const store = await openSqliteStore(dir);
  const clock = new ManualClock();
  const catalog = new Catalog({ store, clock, log: createLogger('test', () => {}) });
  try {
    await catalog.start();
    for (const [id, address, ttlSeconds, version] of [['r1', '10.0.0.1', 0, 'v1'], ['r2', '10.0.0.2', 10, 'v2']] as const) {
      const r = validateRegistration({ service: 'reviews', id, address, ports: [{ port: 80, targetPort: 9080, name: 'web' }], ttlSeconds, labels: { version } });
      assert.ok(r.ok);
      await catalog.register(r.value);
    }
    const source = await openDnsSource(store, catalog);
    const view = new CatalogDnsView(source, 1);
    assert.deepEqual(data(buildAnswer('reviews.default.svc.cluster.local', 'A', view, ttl)), ['10.0.0.1', '10.0.0.2']);
    assert.equal(buildAnswer('reviews-v2.default.svc.cluster.local', 'A', view, ttl).rcode, 'NXDOMAIN');

    // A declared Service picks the v2 instances by selector, with its own port name and target port.
    const svc = validateResource({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v2' }, spec: { selector: { app: 'reviews', version: 'v2' }, ports: [{ name: 'http', port: 8080, targetPort: 'web' }] } });
    assert.ok(svc.ok, JSON.stringify(!svc.ok && svc.errors));
    await store.applyResource(svc.value);
    assert.deepEqual(data(buildAnswer('reviews-v2.default.svc.cluster.local', 'A', view, ttl)), ['10.0.0.2']);
    assert.deepEqual(data(buildAnswer('_http._tcp.reviews-v2.default.svc.cluster.local', 'SRV', view, ttl)), [{ priority: 0, weight: 1, port: 9080, target: 'r2.reviews-v2.default.svc.cluster.local' }]);
    // A declared Service with no member exists: NODATA, not NXDOMAIN.
    const empty = validateResource({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'ghost' }, spec: { ports: [{ port: 80 }] } });
    assert.ok(empty.ok);
    await store.applyResource(empty.value);
    const ghost = buildAnswer('ghost.default.svc.cluster.local', 'A', view, ttl);
    assert.equal(ghost.rcode, 'NOERROR');
    assert.equal(ghost.answers.length, 0);
    await store.deleteResource('Service', 'default', 'ghost');
    assert.equal(buildAnswer('ghost.default.svc.cluster.local', 'A', view, ttl).rcode, 'NXDOMAIN');

    clock.advance(11_000);
    await catalog.sweep();
    assert.deepEqual(data(buildAnswer('reviews.default.svc.cluster.local', 'A', view, ttl)), ['10.0.0.1']);
    assert.deepEqual(data(buildAnswer('reviews-v2.default.svc.cluster.local', 'A', view, ttl)), []);
    view.close();
    source.close();
  } finally {
    catalog.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
