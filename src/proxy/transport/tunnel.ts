// Upgraded connections (WebSocket and other HTTP/1.1 Upgrade protocols): after the handshake the
// proxy only shuttles bytes, so the request head is replayed to the endpoint (in mutual TLS when it
// has an identity) and both sockets piped.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { dialEndpoint, type EndpointTls } from './mesh-tls.ts';

/**
 * Opens a connection, writes the request head, and pipes both directions until either closes.
 * `extraHeaders` replace incoming fields of the same name; an undefined value only removes it.
 */
export function tunnel(req: IncomingMessage, client: Duplex, head: Buffer, address: string, port: number, path: string, extraHeaders: Readonly<Record<string, string | undefined>>, connectMs: number, tls?: EndpointTls): Promise<void> {
  return new Promise((resolve, reject) => {
    const { socket: upstream, ready } = dialEndpoint({ host: address, port, tls: tls && { ...tls, alpn: 'http/1.1' } });
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'WEFT_CONNECT_TIMEOUT' })), connectMs);
    upstream.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    upstream.once(ready, () => {
      clearTimeout(timer);
      upstream.removeAllListeners('error');
      let headText = `${req.method} ${path} HTTP/1.1\r\n`;
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i].toLowerCase() in extraHeaders) continue;
        headText += `${raw[i]}: ${raw[i + 1]}\r\n`;
      }
      for (const [name, value] of Object.entries(extraHeaders)) if (value !== undefined) headText += `${name}: ${value}\r\n`;
      upstream.write(headText + '\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      const end = (): void => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', end);
      client.on('error', end);
      upstream.on('close', end);
      client.on('close', end);
      resolve();
    });
  });
}
