// DNS interface of the control plane: the UDP transport. One datagram is one query; the handler's
// response (already fitted to 512 bytes or the EDNS0 payload size) goes back to the sender.

import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../lib/log.ts';
import type { DnsHandler } from './handler.ts';

export interface UdpDnsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on `host:port` (an IP address; port 0 picks one) and answers every datagram
 * with `handler`. Rejects with the bind error (EADDRINUSE …). A send error is logged, never thrown.
 */
export function startUdpDnsServer(options: { host: string; port: number; handler: DnsHandler; log: Logger }): Promise<UdpDnsServer> {
  const { handler, log } = options;
  const socket: Socket = createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4', reuseAddr: false });
  socket.on('message', (msg, rinfo) => {
    const out = handler.handle(msg, 'udp');
    if (!out) return;
    socket.send(out, rinfo.port, rinfo.address, (err) => {
      if (err) log.debug('dns: udp send failed', { to: `${rinfo.address}:${rinfo.port}`, err: err.message });
    });
  });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onBindError);
    socket.bind(options.port, options.host, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => log.warn('dns: udp socket error', { err: err.message }));
      resolve({
        port: socket.address().port,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}
