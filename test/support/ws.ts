// WebSocket-style upgrades for integration tests: an in-process HTTP/1.1 app that completes the
// handshake (Sec-WebSocket-Accept) and then echoes raw bytes, and a client that performs the upgrade.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const WS_GREETING = 'hello from the app\n';

export function wsAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface WsApp {
  readonly port: number;
  /** Request heads of every upgrade the app accepted. */
  readonly upgrades: http.IncomingHttpHeaders[];
  readonly paths: string[];
  close(): Promise<void>;
}

/** After the 101 the app writes WS_GREETING, then echoes every byte it receives. */
export async function startWsApp(): Promise<WsApp> {
  const upgrades: http.IncomingHttpHeaders[] = [];
  const paths: string[] = [];
  const sockets = new Set<Duplex>();
  const server = http.createServer((_req, res) => res.writeHead(426, { upgrade: 'websocket' }).end('upgrade required'));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const key = req.headers['sec-websocket-key'];
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    upgrades.push(req.headers);
    paths.push(req.url ?? '');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`);
    socket.write(WS_GREETING);
    if (head.length) socket.write(head);
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    paths,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Upgraded {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly socket: Socket;
  readonly key: string;
  /** Bytes that arrived with the 101 head. */
  readonly head: Buffer;
}

/** Sends an upgrade request; resolves on 101, rejects with the status (and x-weft-reason) otherwise. */
export function wsUpgrade(port: number, host: string, path: string): Promise<Upgraded> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      agent: false,
      headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
    });
    req.on('upgrade', (res, socket, head) => resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, key, head }));
    req.on('response', (res) => {
      res.resume();
      reject(Object.assign(new Error(`no upgrade: ${res.statusCode} ${res.headers['x-weft-reason'] ?? ''}`), { status: res.statusCode, reason: res.headers['x-weft-reason'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads from a socket until at least `count` bytes arrived (starting with `initial`); resolves with all of them. */
export function readBytes(socket: Socket, count: number, initial: Buffer = Buffer.alloc(0), timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = initial;
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(buf);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= count) done();
    };
    const onClose = (): void => {
      clearTimeout(timer);
      reject(new Error(`socket closed after ${buf.length} of ${count} bytes`));
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      socket.off('close', onClose);
      reject(new Error(`timed out after ${buf.length} of ${count} bytes`));
    }, timeoutMs);
    if (buf.length >= count) return done();
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}
