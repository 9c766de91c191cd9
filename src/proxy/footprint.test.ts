// Guards the sidecar's memory floor: loading the proxy must not pull in fetch (undici) or HTTP/2,
// which together cost a process ~20 MB of RSS (see src/lib/node-http.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('loading the sidecar loads neither undici nor http2', () => {
  const proxyModule = fileURLToPath(new URL('./proxy.ts', import.meta.url));
  const script = `await import(${JSON.stringify(proxyModule)}); console.log(JSON.stringify(process.moduleLoadList));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  const heavy = loaded.filter((m) => /^NativeModule (internal\/deps\/undici|http2$|internal\/http2)/.test(m));
  assert.deepEqual(heavy, [], 'an `import http from "node:http"` (use src/lib/node-http.ts) or a fetch call crept into the sidecar');
});
