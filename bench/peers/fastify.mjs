// Peer contender: fastify + @fastify/reply-from (undici pool to the upstream), from the isolated
// install in bench/work/peers. Usage: node bench/peers/fastify.mjs PORT UPSTREAM_PORT

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../work/peers/package.json'));
const fastify = require('fastify');
const replyFrom = require('@fastify/reply-from');
const [port, upstreamPort] = process.argv.slice(2).map(Number);

const app = fastify({ logger: false, keepAliveTimeout: 300_000 });
await app.register(replyFrom, { base: `http://127.0.0.1:${upstreamPort}`, undici: { connections: 128, pipelining: 1, keepAliveTimeout: 300_000 } });
app.all('/*', (req, reply) => reply.from(req.url));
await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify listening on ${port}`);
