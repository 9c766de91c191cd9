// Shared plumbing for the demo apps: a node:http server on $PORT with GET /healthz, JSON replies and
// a quick, clean exit on SIGINT/SIGTERM (the sidecar's `weft run` exits with the app's code).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';

const shutdownHooks: Array<() => void> = [];

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads PORT (required unless `optional`), serves /healthz itself and hands every other request to `handler`. */
export function serve(name: string, handler: Handler, options: { optional?: boolean } = {}): http.Server | undefined {
  const port = Number(process.env.PORT);
  if (!process.env.PORT || !Number.isInteger(port) || port < 0 || port > 65535) {
    if (options.optional) return undefined;
    console.error(`${name}: set PORT to the port to listen on`);
    process.exit(2);
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'GET' && url.pathname === '/healthz') return sendText(res, 200, 'text/plain', 'ok\n');
    Promise.resolve(handler(req, res, url)).catch((err: unknown) => {
      console.error(`${name}: handler failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`${name} listening on 127.0.0.1:${port}`));
  onShutdown(() => {
    server.close();
    server.closeAllConnections();
  });
  return server;
}

/** Runs `cleanup` once on the first SIGINT/SIGTERM, then exits 0. */
export function onShutdown(cleanup: () => void): void {
  shutdownHooks.push(cleanup);
  if (shutdownHooks.length > 1) return;
  let done = false;
  const stop = (): void => {
    if (done) return;
    done = true;
    for (const hook of shutdownHooks) hook();
    // The app may get the signal twice (from the demo and from `weft run`); exit promptly either way.
    setTimeout(() => process.exit(0), 50).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
