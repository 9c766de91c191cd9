// The floor of any Node proxy: each client connection gets one upstream connection and the bytes are
// piped both ways, with no HTTP parsing, routing or metrics. What this costs in memory and latency,
// weft cannot go below on the same runtime. Usage: node bench/peers/node-pipe.mjs PORT UPSTREAM_PORT

import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);

net
  .createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  })
  .listen(port, '127.0.0.1', () => console.log(`node-pipe listening on ${port}`));
