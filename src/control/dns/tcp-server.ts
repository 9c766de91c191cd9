// DNS interface of the control plane: the TCP transport (RFC 7766). Messages are framed by a
// two-byte length (RFC 1035 §4.2.2); a connection may carry many queries, answered in order.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.ts';
import type { DnsHandler } from './handler.ts';

export interface TcpDnsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: DnsHandler;
  readonly log: Logger;
  /** A connection silent this long is closed (RFC 7766 §6.2.3: "of the order of seconds"); default 10 s. */
  readonly idleTimeoutMs?: number;
  /** Connections beyond this are refused at accept (default 512). */
  readonly maxConnections?: number;
}

export interface TcpDnsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** A client that reads nothing while asking on is cut off once this much output waits for it. */
const MAX_PENDING_OUTPUT = 1 << 20;

/** Listens on `host:port` and answers framed queries with `handler`. Rejects with the listen error. */
export function startTcpDnsServer(options: TcpDnsServerOptions): Promise<TcpDnsServer> {
  const { handler, log } = options;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => log.debug('dns: tcp connection error', { err: err.message }));
    socket.setTimeout(options.idleTimeoutMs ?? 10_000, () => socket.destroy());
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // A frame is at most 2 + 65535 bytes, so `pending` never holds more than one partial frame.
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const out = handler.handle(message, 'tcp');
        if (!out) continue;
        const frame = Buffer.allocUnsafe(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        socket.write(frame);
        if (socket.writableLength > MAX_PENDING_OUTPUT) {
          socket.destroy();
          return;
        }
      }
    });
  });
  server.maxConnections = options.maxConnections ?? 512;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', (err) => log.warn('dns: tcp server error', { err: err.message }));
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
