// The alternative upstream (`--upstream node`): a bare node:http server answering every request with
// the same 100-byte body. Usage: node bench/peers/node-upstream.ts PORT

import http from 'node:http';

const body = Buffer.from(`${'weft-bench '.repeat(9)}\n`);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 300_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log(`node upstream listening on ${process.argv[2]}`));
