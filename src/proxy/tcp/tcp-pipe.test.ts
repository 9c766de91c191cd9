// The byte path between two sockets: bytes both ways, a half-close passed on as a half-close (the
// answer still flows back), a reset passed on as a reset, and the byte counts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { pipeSockets, type PipeResult } from './tcp-pipe.ts';

/**
 * client ⇄ [proxy: pipeSockets(accepted, toServer)] ⇄ server. `serve` gets the server's socket.
 * Resolves with the client socket and a promise of the pipe's result.
 */
async function chain(serve: (s: net.Socket) => void): Promise<{ client: net.Socket; result: Promise<PipeResult>; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true }, serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let resolveResult!: (r: PipeResult) => void;
  const result = new Promise<PipeResult>((r) => (resolveResult = r));
  const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
    const upstream = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, allowHalfOpen: true });
    upstream.once('connect', () => pipeSockets(accepted, upstream, resolveResult));
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const client = net.connect({ host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port, allowHalfOpen: true });
  await once(client, 'connect');
  return { client, result, close: () => (server.close(), proxy.close()) };
}

test('bytes flow both ways; a FIN from the client reaches the server, whose answer still comes back', async () => {
  const { client, result, close } = await chain((s) => {
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    // The server answers only once the client has finished sending (FIN), then closes its side.
    s.on('end', () => s.end(`echo:${got}`));
  });
  let answer = '';
  client.setEncoding('utf8');
  client.on('data', (d: string) => (answer += d));
  client.end('hello');
  await once(client, 'end');
  assert.equal(answer, 'echo:hello');
  client.destroy();
  assert.deepEqual(await result, { sent: 5, received: 10, reset: false });
  close();
});

test('a reset from the server reaches the client as a reset (ECONNRESET)', async () => {
  const { client, result, close } = await chain((s) => s.once('data', () => s.resetAndDestroy()));
  let errored = false;
  client.on('error', () => (errored = true));
  const closed = new Promise((resolve) => client.once('close', resolve));
  client.write('x');
  await closed;
  assert.equal(errored, true, 'the client sees the reset as ECONNRESET');
  assert.equal((await result).reset, true);
  close();
});
