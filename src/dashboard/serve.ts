// The dashboard's delivery: the control plane serves the web UI at /ui. The browser code under
// src/dashboard/app/ is bundled with esbuild on the first request (kept in memory), so neither
// `npm install` nor the repository carries a built blob. The UI then talks only to the /v1 API.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError, errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

/** Where the UI lives on the control plane's listener. */
export const UI_PATH = '/ui';

/** One asset: its bytes and content type. */
interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * The app's sources: beside this file when it runs from src/, and under the repository's src/ when
 * it runs compiled from dist/ (tsconfig.build.json does not compile the browser code).
 */
function appDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'app'), path.resolve(here, '../../src/dashboard/app')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'main.ts')));
  if (!found) throw new WeftError('WEFT_ERR_UI_MISSING', `the dashboard sources are not installed (looked in ${candidates.join(', ')})`, 503);
  return found;
}

/** Bundles the app (ES2022, minified, one file) with esbuild; throws WEFT_ERR_UI_BUILD on failure. */
async function buildAssets(): Promise<Map<string, Asset>> {
  const dir = appDir();
  // Loaded lazily: a control plane whose dashboard nobody opens never loads esbuild.
  const esbuild = await import('esbuild');
  let js: string;
  try {
    const result = await esbuild.build({
      entryPoints: [path.join(dir, 'main.ts')],
      bundle: true,
      format: 'esm',
      target: 'es2022',
      minify: true,
      write: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
    js = result.outputFiles[0]!.text;
  } catch (err) {
    throw new WeftError('WEFT_ERR_UI_BUILD', `cannot build the dashboard: ${errorMessage(err)}`, 500);
  }
  const [html, css] = await Promise.all([readFile(path.join(dir, 'index.html')), readFile(path.join(dir, 'style.css'))]);
  return new Map<string, Asset>([
    [`${UI_PATH}/`, { body: html, type: 'text/html; charset=utf-8' }],
    [`${UI_PATH}/app.js`, { body: Buffer.from(js), type: 'text/javascript; charset=utf-8' }],
    [`${UI_PATH}/style.css`, { body: css, type: 'text/css; charset=utf-8' }],
  ]);
}

/**
 * The /ui handler. It serves only public assets (no data, no token), so it runs before the API's
 * authentication; the data comes from /v1 calls the page makes with the token the user typed.
 * Headers: a strict Content-Security-Policy (scripts and styles from this origin only, API calls
 * to this origin only), no framing, no referrer (a URL never carries a credential anyway).
 */
export interface DashboardHandler {
  /** Whether `pathname` belongs to the UI. */
  owns(pathname: string): boolean;
  /** Answers a GET or HEAD under /ui; 404 for an unknown asset, 405 for another method. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void>;
}

export function createDashboardHandler(log: Logger): DashboardHandler {
  let assets: Promise<Map<string, Asset>> | undefined;
  return {
    owns: (pathname) => pathname === UI_PATH || pathname.startsWith(`${UI_PATH}/`),
    async handle(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new WeftError('WEFT_ERR_API_METHOD', `${req.method} is not allowed on ${pathname}`, 405);
      if (pathname === UI_PATH) {
        res.writeHead(308, { location: `${UI_PATH}/` }).end();
        return;
      }
      if (!assets) {
        const started = Date.now();
        assets = buildAssets();
        // A failed build is retried on the next request rather than cached.
        assets.then(
          () => log.info('dashboard bundled', { ms: Date.now() - started }),
          () => (assets = undefined),
        );
      }
      const asset = (await assets).get(pathname);
      if (!asset) throw new WeftError('WEFT_ERR_UI_NOT_FOUND', `no dashboard asset ${pathname}`, 404);
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
        'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    },
  };
}
