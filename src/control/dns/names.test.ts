import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressToHex, hexToAddress, instanceLabel, parseQueryName } from './names.ts';

const namespaces = new Set(['default', 'shop']);
const parse = (name: string) => parseQueryName(name, (ns) => namespaces.has(ns));

test('cluster.local names: service, named port, instance, intermediate names and the apex', () => {
  assert.deepEqual(parse('reviews.default.svc.cluster.local.'), { kind: 'service', zone: { name: 'cluster.local' }, namespace: 'default', service: 'reviews' });
  // Case does not matter (RFC 4343).
  assert.deepEqual(parse('Reviews.SHOP.svc.Cluster.Local'), { kind: 'service', zone: { name: 'cluster.local' }, namespace: 'shop', service: 'reviews' });
  assert.deepEqual(parse('_http._tcp.reviews.default.svc.cluster.local'), { kind: 'service', zone: { name: 'cluster.local' }, namespace: 'default', service: 'reviews', portName: 'http' });
  assert.deepEqual(parse('_tcp.reviews.default.svc.cluster.local'), { kind: 'service-parent', zone: { name: 'cluster.local' }, namespace: 'default', service: 'reviews' });
  assert.deepEqual(parse('r1.reviews.default.svc.cluster.local'), { kind: 'instance', zone: { name: 'cluster.local' }, namespace: 'default', service: 'reviews', label: 'r1' });
  assert.equal(parse('cluster.local').kind, 'apex');
  assert.equal(parse('svc.cluster.local').kind, 'empty');
  assert.deepEqual(parse('default.svc.cluster.local'), { kind: 'namespace', zone: { name: 'cluster.local' }, namespace: 'default' });
  // Unknown namespace, other subtrees, UDP ports, too deep, bad labels: not weft names.
  for (const n of ['nowhere.svc.cluster.local', 'pod.cluster.local', '_http._udp.reviews.default.svc.cluster.local', 'a.b.reviews.default.svc.cluster.local', 're_views.default.svc.cluster.local', '-x.default.svc.cluster.local']) {
    assert.equal(parse(n).kind, 'nxdomain', n);
  }
  // A service in an unknown namespace is still in the zone: NXDOMAIN comes from the (empty) catalog.
  assert.equal(parse('reviews.nowhere.svc.cluster.local').kind, 'service');
});

test('consul names: [TAG.]NAME.service[.NS.ns].consul and HEX.addr.consul', () => {
  const zone = { name: 'consul' };
  assert.deepEqual(parse('reviews.service.consul'), { kind: 'service', zone, namespace: 'default', service: 'reviews' });
  assert.deepEqual(parse('v2.reviews.service.consul.'), { kind: 'service', zone, namespace: 'default', service: 'reviews', tag: 'v2' });
  assert.deepEqual(parse('reviews.service.shop.ns.consul'), { kind: 'service', zone, namespace: 'shop', service: 'reviews' });
  assert.deepEqual(parse('c000020a.addr.consul'), { kind: 'addr', zone, address: '192.0.2.10', family: 4 });
  assert.deepEqual(parse('fd000000000000000000000000000001.addr.consul'), { kind: 'addr', zone, address: 'fd00:0:0:0:0:0:0:1', family: 6 });
  assert.equal(parse('consul').kind, 'apex');
  assert.equal(parse('service.consul').kind, 'empty');
  assert.equal(parse('addr.consul').kind, 'empty');
  for (const n of ['reviews.node.consul', 'zz.addr.consul', 'a.b.reviews.service.consul', 'x.y.addr.consul']) assert.equal(parse(n).kind, 'nxdomain', n);
});

test('search-path names NAME.NAMESPACE are served only for namespaces the catalog knows; the rest is refused', () => {
  assert.deepEqual(parse('reviews.default'), { kind: 'service', zone: { name: 'default' }, namespace: 'default', service: 'reviews' });
  assert.deepEqual(parse('_grpc._tcp.reviews.shop'), { kind: 'service', zone: { name: 'shop' }, namespace: 'shop', service: 'reviews', portName: 'grpc' });
  assert.equal(parse('default.').kind, 'apex');
  assert.equal(parse('a.b.c.default').kind, 'nxdomain');
  for (const n of ['example.com', 'reviews.other', '.', '', 'localhost', 'local']) assert.deepEqual(parse(n), { kind: 'refused' }, n);
});

test('instance labels: the id when it is a DNS label, else the address with dashes', () => {
  assert.equal(instanceLabel('Reviews-1', '10.0.0.1'), 'reviews-1');
  assert.equal(instanceLabel('host:8080', '10.0.0.7'), '10-0-0-7');
  assert.equal(instanceLabel('a.b', 'fd00::1'), 'fd00--1');
});

test('Consul hex addresses round-trip', () => {
  assert.equal(addressToHex('192.0.2.10', 4), 'c000020a');
  assert.equal(addressToHex('fd00::1', 6), 'fd000000000000000000000000000001');
  assert.equal(addressToHex('::ffff:10.0.0.1', 6), '00000000000000000000ffff0a000001');
  for (const [a, f] of [['10.1.2.3', 4], ['2001:db8::8:800:200c:417a', 6]] as const) {
    const back = hexToAddress(addressToHex(a, f));
    assert.equal(back?.family, f);
    assert.equal(addressToHex(back!.address, f), addressToHex(a, f));
  }
  assert.equal(hexToAddress('c00002'), undefined);
});
