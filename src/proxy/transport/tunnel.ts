// Upgraded connections (WebSocket and other HTTP/1.1 Upgrade protocols): once the upstream has
// answered 101 (forward.ts, through h1-client.ts) the client's and the upstream's sockets are
// spliced, and from then on the proxy only shuttles bytes. Nothing is spliced before the 101.

import type { Duplex } from 'node:stream';

/**
 * Pipes `client` and `upstream` into each other until either closes or fails, which closes both.
 * `clientHead`: bytes the client sent after its upgrade request (held back until the 101), written
 * upstream first; `upstreamHead`: bytes of the new protocol that came with the 101, written to the
 * client first. Both sockets must have no other reader.
 */
export function splice(client: Duplex, clientHead: Buffer, upstream: Duplex, upstreamHead: Buffer): void {
  const end = (): void => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on('error', end);
  client.on('error', end);
  upstream.on('close', end);
  client.on('close', end);
  // One side may have gone already (its 'close' passed before these listeners): then so does the other.
  if (client.destroyed || upstream.destroyed) {
    end();
    return;
  }
  if (upstreamHead.length > 0) client.write(upstreamHead);
  if (clientHead.length > 0) upstream.write(clientHead);
  upstream.pipe(client);
  client.pipe(upstream);
}
