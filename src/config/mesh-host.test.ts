import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshHost } from './mesh-host.ts';

test('parses the three Kubernetes host forms, with and without port', () => {
  assert.deepEqual(parseMeshHost('reviews'), { name: 'reviews', namespace: undefined, port: undefined });
  assert.deepEqual(parseMeshHost('reviews.shop:8080'), { name: 'reviews', namespace: 'shop', port: 8080 });
  assert.deepEqual(parseMeshHost('Reviews.Shop.svc.cluster.local'), { name: 'reviews', namespace: 'shop', port: undefined });
  assert.deepEqual(parseMeshHost('reviews.shop.svc:9000'), { name: 'reviews', namespace: 'shop', port: 9000 });
});

test('rejects what cannot be a mesh host', () => {
  assert.equal(parseMeshHost('example.com.au'), undefined);
  assert.equal(parseMeshHost('reviews:http'), undefined);
  assert.equal(parseMeshHost('reviews:70000'), undefined);
  assert.equal(parseMeshHost('[::1]:80'), undefined);
  assert.equal(parseMeshHost('-bad'), undefined);
});
