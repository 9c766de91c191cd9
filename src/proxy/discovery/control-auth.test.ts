// The sidecar's credential per call: the join token before a certificate (preferred to an admin
// token), then a proof signed with the certificate's key carrying its chain; and the CSR it sends.

import 'reflect-metadata';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { PROOF_SCHEME, PROOF_TYPE } from '../../config/control-auth.ts';
import { createTestCa } from '../../../test/support/test-ca.ts';
import type { Credentials } from '../transport/mesh-tls.ts';
import { createControlAuth, createCsr, x5cOf } from './control-auth.ts';

const ca = createTestCa();
after(() => ca.remove());

test('before a certificate: the join token (preferred to an admin token); after: a proof for this request', async () => {
  let credentials: Credentials | undefined;
  const auth = createControlAuth({ joinToken: 'join-secret', token: 'admin-secret', credentials: () => credentials });
  assert.deepEqual(await auth.headers('POST', '/v1/certificates'), { authorization: 'Bearer join-secret' });
  assert.equal(auth.hasToken(), true);
  assert.deepEqual(createControlAuth({ credentials: () => undefined }).tokenHeaders(), {});

  const leaf = ca.issue('URI:spiffe://weft.local/ns/default/svc/orders');
  credentials = { identity: 'spiffe://weft.local/ns/default/svc/orders', key: leaf.key, certificate: leaf.cert, trustBundle: ca.rootPem, notBefore: 0, notAfter: 0, serial: '1' };
  const { authorization } = await auth.headers('PUT', '/v1/catalog/instances/default/orders/o-1/heartbeat');
  assert.ok(authorization!.startsWith(`${PROOF_SCHEME} `));
  const jws = authorization!.slice(PROOF_SCHEME.length + 1);
  const header = decodeProtectedHeader(jws);
  assert.equal(header.typ, PROOF_TYPE);
  assert.deepEqual(header.x5c, x5cOf(leaf.cert));
  const { payload } = await compactVerify(jws, new X509Certificate(leaf.cert).publicKey);
  const claims = JSON.parse(Buffer.from(payload).toString());
  assert.deepEqual([claims.htm, claims.htu], ['PUT', '/v1/catalog/instances/default/orders/o-1/heartbeat']);
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 5);
  const again = await auth.headers('PUT', '/v1/catalog/instances/default/orders/o-1/heartbeat');
  assert.notEqual(again.authorization, authorization, 'every proof has its own jti');
});

test('the CSR is signed by the key it carries', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = await createCsr(privateKey, publicKey, 'orders.default');
  const csr = new x509.Pkcs10CertificateRequest(pem);
  assert.ok(await csr.verify());
  assert.ok(createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).equals(publicKey));
  assert.match(csr.subject, /CN=orders\.default/);
});
