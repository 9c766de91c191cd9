// Peer contender: node-http-proxy (http-proxy on npm) with a keep-alive agent to the upstream, from
// the isolated install in bench/work/peers. Usage: node bench/peers/node-http-proxy.mjs PORT UPSTREAM_PORT

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../work/peers/package.json'));
const httpProxy = require('http-proxy');
// require, not an ESM import: that would read http's lazy WebSocket export and load undici (~20 MB),
// which a CommonJS user of http-proxy never pays.
const http = require('node:http');
const [port, upstreamPort] = process.argv.slice(2).map(Number);

const agent = new http.Agent({ keepAlive: true, maxSockets: 128, maxFreeSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: false });
proxy.on('error', (err, _req, res) => {
  if (!res.headersSent) res.writeHead(502);
  res.end(String(err.message));
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 300_000;
server.listen(port, '127.0.0.1', () => console.log(`node-http-proxy listening on ${port}`));
