// A plaintext listener that speaks HTTP/1.1 and HTTP/2 (h2c with prior knowledge) on one port: it
// peeks at the first bytes of each connection and hands the socket to the matching server. HTTP/1.1
// goes to the lean server (h1-server.ts), which passes what it does not handle on to node:http.

import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Duplex } from 'node:stream';
import { H1ServerConnection } from './h1-server.ts';
import type { H1ServerRequest, H1ServerResponse } from './h1-server-message.ts';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** WEFT_H1_SERVER=node: every HTTP/1.1 connection goes to node:http's server (the old path, kept for comparison). */
const NODE_H1_SERVER = process.env.WEFT_H1_SERVER === 'node';
/** The lean server's timers: a sweep every 5 s counts idle time and the time a head takes to arrive. */
const SWEEP_MS = 5_000;
const KEEP_ALIVE_TICKS = 12; // 60 s, node:http's keepAliveTimeout here
const HEAD_TICKS = 6; // 30 s, node:http's headersTimeout here

export interface ListenerHandlers {
  readonly request: (req: IncomingMessage | Http2ServerRequest | H1ServerRequest, res: ServerResponse | Http2ServerResponse | H1ServerResponse) => void;
  readonly upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** HTTP CONNECT; `adopt` hands the tunnelled socket back to this listener's HTTP/1.1 server. */
  readonly connect?: (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void) => void;
  readonly connectionOpened?: () => void;
  readonly connectionClosed?: () => void;
  /** Names this proxy in replies to malformed requests. */
  readonly proxyId?: string;
}

export interface Listener {
  readonly port: number;
  /** Stops accepting; open connections finish their requests (HTTP/1.1 keep-alive ends after). */
  close(): Promise<void>;
  /** Closes every connection now. */
  destroy(): void;
}

export interface ListenOptions {
  /** SO_REUSEPORT: several listeners (one per worker thread) share the port; the kernel spreads connections. */
  readonly reusePort?: boolean;
}

export async function listen(host: string, port: number, handlers: ListenerHandlers, options: ListenOptions = {}): Promise<Listener> {
  const h1 = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000 }, handlers.request);
  if (handlers.upgrade) h1.on('upgrade', handlers.upgrade);
  const connect = handlers.connect;
  if (connect) h1.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => connect(req, socket, head, (s) => h1.emit('connection', s)));
  // Created at the first h2c connection: node:http2 (and the TLS code it pulls in) costs ~13 MB of
  // RSS, which a sidecar that only ever sees HTTP/1.1 should not pay.
  let h2server: Http2Server | undefined;
  const h2 = (): Http2Server => {
    if (!h2server) {
      h2server = process.getBuiltinModule('node:http2').createServer({ settings: { maxConcurrentStreams: 1000 } }, handlers.request);
      h2server.on('sessionError', () => {});
    }
    return h2server;
  };
  const sockets = new Set<net.Socket>();
  const lean = new Set<H1ServerConnection>();
  const leanOptions = {
    onRequest: handlers.request,
    fallback: (socket: net.Socket, unread: Buffer) => {
      socket.pause();
      if (unread.length > 0) socket.unshift(unread);
      h1.emit('connection', socket);
      socket.resume();
    },
    proxyId: handlers.proxyId ?? 'weft',
    onDone: (conn: H1ServerConnection) => lean.delete(conn),
  };
  // One timer for every lean connection, instead of one per socket refreshed at every read and write.
  const sweep = setInterval(() => {
    for (const conn of lean) {
      if (conn.inHead) {
        if (++conn.headTicks >= HEAD_TICKS) conn.headTimeout();
      } else if (conn.idle && ++conn.idleTicks >= KEEP_ALIVE_TICKS) {
        conn.socket.destroy();
      }
    }
  }, SWEEP_MS);
  sweep.unref();

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    handlers.connectionOpened?.();
    socket.once('close', () => {
      sockets.delete(socket);
      handlers.connectionClosed?.();
    });
    socket.once('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const n = Math.min(first.length, H2_PREFACE.length);
      const isH2 = n > 0 && first.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2) {
        // http2 reads the native handle directly and would miss the unshifted preface; a JS
        // duplex over the socket makes it read through the stream, which still holds those bytes.
        h2().emit('connection', Duplex.from({ readable: socket, writable: socket }));
      } else if (NODE_H1_SERVER) {
        h1.emit('connection', socket);
      } else {
        lean.add(new H1ServerConnection(socket, leanOptions));
      }
      socket.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      clearInterval(sweep);
      reject(err);
    });
    server.listen({ port, host, reusePort: options.reusePort ?? false }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });

  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        h1.closeIdleConnections();
        for (const conn of lean) conn.close();
        clearInterval(sweep);
        server.close(() => resolve());
      }),
    destroy: () => {
      for (const s of sockets) s.destroy();
      clearInterval(sweep);
      server.close();
    },
  };
}
