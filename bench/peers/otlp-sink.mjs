// A tiny OTLP/HTTP traces sink for the bench's weft-sidecar-observed contender: accepts every POST
// (OTLP/JSON or protobuf), discards it, answers 200 `{}` (an ExportTraceServiceResponse with no
// partial failure), and counts what it took; GET /stats answers the counts as JSON.
// Usage: node bench/peers/otlp-sink.mjs PORT

import http from 'node:http';

const port = Number(process.argv[2]);
const stats = { exports: 0, bytes: 0, spans: 0 };

http
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      stats.exports++;
      stats.bytes += body.length;
      // Spans are counted by their ids in OTLP/JSON: proof that tracing really exported (protobuf is only counted in bytes).
      if (/json/.test(req.headers['content-type'] ?? '')) stats.spans += (body.toString('utf8').match(/"spanId"/g) ?? []).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`otlp-sink listening on ${port}`));
