// Guards the sidecar's memory floor: loading the proxy must not pull in fetch (undici), HTTP/2 or
// TLS, which together cost a process ~20 MB of RSS (see src/lib/node-http.ts); TLS loads at the
// first mutual-TLS connection, HTTP/2 at the first h2 one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('loading the sidecar loads neither undici, http2 nor tls', () => {
  const proxyModule = fileURLToPath(new URL('./proxy.ts', import.meta.url));
  const script = `await import(${JSON.stringify(proxyModule)}); console.log(JSON.stringify(process.moduleLoadList));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  const heavy = loaded.filter((m) => /^NativeModule (internal\/deps\/undici|http2$|internal\/http2|tls$|_tls_wrap|internal\/tls)/.test(m));
  assert.deepEqual(heavy, [], 'an `import http from "node:http"` (use src/lib/node-http.ts), a fetch call or an eager node:tls import crept into the sidecar');
});

test('making the CSR does not load @peculiar/x509 (its container and polyfills cost a sidecar ~8 MiB)', () => {
  const authModule = fileURLToPath(new URL('./discovery/control-auth.ts', import.meta.url));
  const script = `const { generateKeyPairSync } = await import('node:crypto');
const { createCsr } = await import(${JSON.stringify(authModule)});
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
await createCsr(privateKey, publicKey, 'orders.default');
const { createRequire } = await import('node:module');
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  assert.deepEqual(loaded.filter((f) => /node_modules\/(@peculiar\/x509|tsyringe|reflect-metadata)\//.test(f)), []);
});
