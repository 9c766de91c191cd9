// The /ui handler on a real HTTP server: the page, the bundle esbuild builds from src/dashboard/app,
// the stylesheet, their security headers, and the answers for a wrong path or method.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboardHandler } from './serve.ts';
import { sendError } from '../control/api/http-util.ts';
import { createLogger } from '../lib/log.ts';

let server: http.Server;
let base: string;

before(async () => {
  const log = createLogger('dashboard-test');
  const ui = createDashboardHandler(log);
  server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://x');
    try {
      if (!ui.owns(pathname)) throw new Error(`not the UI's: ${pathname}`);
      await ui.handle(req, res, pathname);
    } catch (err) {
      sendError(res, err, log);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

test('the page, the bundle and the stylesheet are served with a strict CSP', async () => {
  const page = await fetch(`${base}/ui/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  assert.match(await page.text(), /<script type="module" src="\/ui\/app.js">/);

  const js = await fetch(`${base}/ui/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  const code = await js.text();
  // Bundled: no bare imports left for the browser to resolve, and the app's own strings are in it.
  assert.doesNotMatch(code, /from\s*["'](preact|htm|@dagrejs)/);
  assert.match(code, /weft\.token/);
  assert.match(code, /\/v1\/stats/);

  const css = await fetch(`${base}/ui/style.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
});

test('/ui redirects to /ui/, an unknown asset is 404 and a POST is 405', async () => {
  const redirect = await fetch(`${base}/ui`, { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/ui/');
  const missing = await fetch(`${base}/ui/secrets.json`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'WEFT_ERR_UI_NOT_FOUND');
  const post = await fetch(`${base}/ui/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
});
