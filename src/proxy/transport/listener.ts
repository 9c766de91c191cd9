// A listener that speaks HTTP/1.1 and HTTP/2 on one port: it peeks at the first bytes of each
// connection and hands the socket to the matching server, after terminating mutual TLS when the
// bytes are a TLS handshake (inbound listeners). HTTP/1.1 goes to the lean server (h1-server.ts),
// which passes what it does not handle on to node:http; a TCP connection (ALPN weft-tcp, or any
// connection when the app speaks TCP) goes to the TCP handler as bytes.

import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Duplex } from 'node:stream';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { H1ServerConnection } from './h1-server.ts';
import type { H1ServerRequest, H1ServerResponse } from './h1-server-message.ts';
import { markPeerIdentity, setPeerIdentity, trustDomainOf, WEFT_TCP_ALPN, type MeshTls } from './mesh-tls.ts';
import { rawLocalReply, type LocalReplyReason } from '../http/local-reply.ts';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** A TLS record of type handshake: every TLS connection starts with one (the ClientHello). */
const TLS_HANDSHAKE = 0x16;
/**
 * OpenSSL resumes a session only in the context that issued it; Node derives the default from
 * process.argv, which worker threads do not share. Every inbound listener of a sidecar checks
 * callers the same way, so one fixed context lets a ticket issued on one thread resume on another.
 */
const SESSION_ID_CONTEXT = 'weft-inbound-mtls';
/** A peer that starts a handshake and stalls is dropped after this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** WEFT_H1_SERVER=node: every HTTP/1.1 connection goes to node:http's server (the old path, kept for comparison). */
const NODE_H1_SERVER = process.env.WEFT_H1_SERVER === 'node';
/** The lean server's timers: a sweep every 5 s counts idle time and the time a head takes to arrive. */
const SWEEP_MS = 5_000;
const KEEP_ALIVE_TICKS = 12; // 60 s, node:http's keepAliveTimeout here
/**
 * The least time (ms) a lean-server connection stays open idle: the sweep that finds it idle may run
 * at once, so it closes after 11 to 12 sweeps. Peer sidecars keep pooled connections for less (h1-pool.ts).
 */
export const INBOUND_IDLE_CLOSE_MIN_MS = (KEEP_ALIVE_TICKS - 1) * SWEEP_MS;
const HEAD_TICKS = 6; // 30 s, node:http's headersTimeout here

export interface ListenerHandlers {
  readonly request: (req: IncomingMessage | Http2ServerRequest | H1ServerRequest, res: ServerResponse | Http2ServerResponse | H1ServerResponse) => void;
  /**
   * An upgrade request node:http took (on a connection it serves); `adopt` hands the socket back to
   * it after a non-101 answer, so the connection goes on as HTTP.
   */
  readonly upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void) => void;
  /** HTTP CONNECT; `adopt` hands the tunnelled socket back to this listener's HTTP/1.1 server. */
  readonly connect?: (req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void) => void;
  readonly connectionOpened?: () => void;
  readonly connectionClosed?: () => void;
  /** A request answered by the listener itself, before any handler (400, 408, 431, 403 mtls-required). */
  readonly requestRefused?: (status: number, reason: LocalReplyReason) => void;
  /** Names this proxy in replies to malformed requests. */
  readonly proxyId?: string;
  /**
   * A TCP connection to carry to the app as bytes: a mutual-TLS connection that negotiated ALPN
   * `weft-tcp` (a client sidecar's TCP upstream), or — when `rawTcp()` says the app speaks TCP —
   * any connection, plaintext ones included where the mTLS mode allows them. `peer`: the SPIFFE ID
   * the caller proved; undefined for plaintext. Absent: such connections are closed.
   */
  readonly tcp?: (socket: net.Socket, peer: string | undefined) => void;
  /** The app behind this listener speaks TCP, not HTTP: nothing arriving here is parsed as HTTP. */
  readonly rawTcp?: () => boolean;
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
  /** Mutual TLS on this port (inbound): connections that open with a TLS handshake are terminated here. */
  readonly tls?: InboundTls;
}

export type InboundSecurity = 'mtls' | 'plaintext' | 'refused-plaintext' | 'handshake-failed';

export interface InboundTls {
  /** This sidecar's certificate and trust bundle; undefined until the CA has issued one. */
  readonly current: () => MeshTls | undefined;
  /** MeshConfig mtls.mode STRICT: plaintext connections get a 403 `mtls-required` and are closed. */
  readonly strict: () => boolean;
  /** How each connection went, for the metrics. */
  readonly onConnection?: (security: InboundSecurity) => void;
  /** Each mutual-TLS handshake that completed: `resumed` when the caller resumed a session this sidecar's ticket keys issued. */
  readonly onHandshake?: (resumed: boolean) => void;
}

export async function listen(host: string, port: number, handlers: ListenerHandlers, options: ListenOptions = {}): Promise<Listener> {
  const h1 = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000 }, handlers.request);
  // `Expect: 100-continue` (the lean server hands such requests here): no 100 of node:http's own;
  // the request goes on with its Expect and the app's 100, or its final answer, is relayed
  // (RFC 9110 §10.1.1). A local reply answers at once with its final status.
  h1.on('checkContinue', handlers.request);
  const upgrade = handlers.upgrade;
  if (upgrade) h1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(req, socket, head, (s) => h1.emit('connection', s)));
  const connect = handlers.connect;
  if (connect) h1.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => connect(req, socket, head, (s) => h1.emit('connection', s)));
  // Created at the first h2c connection: node:http2 (and the TLS code it pulls in) costs ~13 MB of
  // RSS, which a sidecar that only ever sees HTTP/1.1 should not pay.
  let h2server: Http2Server | undefined;
  const h2 = (): Http2Server => {
    if (!h2server) {
      h2server = process.getBuiltinModule('node:http2').createServer({ settings: { maxConcurrentStreams: 1000 } }, handlers.request);
      h2server.on('sessionError', () => {});
      h2server.on('checkContinue', handlers.request);
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
    onRefused: handlers.requestRefused,
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

  const proxyId = handlers.proxyId ?? 'weft';
  const serveHttp1 = (socket: net.Socket): void => {
    if (NODE_H1_SERVER) h1.emit('connection', socket);
    else lean.add(new H1ServerConnection(socket, leanOptions));
  };
  // The TLS side is a tls.Server that never listens: it is handed the sockets that open with a
  // handshake. (A bare TLSSocket would not reject a client certificate that fails verification.)
  let tlsServer: TlsServer | undefined;
  let tlsServerHas: MeshTls | undefined;
  const tlsServerFor = (mesh: MeshTls, tls: InboundTls): TlsServer => {
    if (tlsServer === undefined) {
      tlsServer = process.getBuiltinModule('node:tls').createServer({ ...mesh.options, requestCert: true, rejectUnauthorized: true, sessionIdContext: SESSION_ID_CONTEXT, ALPNProtocols: ['h2', 'http/1.1', WEFT_TCP_ALPN], handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (secure) => onMutualTls(secure, tls));
      tlsServer.on('tlsClientError', (_err, secure) => {
        tls.onConnection?.('handshake-failed');
        secure.destroy();
      });
    } else if (tlsServerHas !== mesh) {
      // A renewed certificate: new handshakes use it, established connections keep theirs.
      tlsServer.setSecureContext(mesh.options);
    }
    tlsServerHas = mesh;
    return tlsServer;
  };
  const acceptMutualTls = (socket: net.Socket, tls: InboundTls): void => {
    const mesh = tls.current();
    if (!mesh) {
      // No certificate yet, so no handshake can succeed: say so by closing rather than hanging.
      tls.onConnection?.('handshake-failed');
      socket.destroy();
      return;
    }
    tlsServerFor(mesh, tls).emit('connection', socket);
  };
  const onMutualTls = (secure: TLSSocket, tls: InboundTls): void => {
    // Errors after the handshake (a reset) only end the connection.
    secure.on('error', () => secure.destroy());
    tls.onHandshake?.(secure.isSessionReused());
    // A resumed session carries the caller's certificate from its full handshake (OpenSSL keeps the
    // peer certificate in the session), so the identity is read, and checked, the same way.
    const peer = markPeerIdentity(secure);
    if (peer === undefined || trustDomainOf(peer) !== trustDomainOf(tls.current()?.identity)) {
      // Signed by the mesh's CA but naming no workload, or one of another trust domain: not a sidecar of this mesh.
      tls.onConnection?.('handshake-failed');
      secure.destroy();
      return;
    }
    tls.onConnection?.('mtls');
    if (secure.alpnProtocol === WEFT_TCP_ALPN || handlers.rawTcp?.()) {
      if (handlers.tcp) handlers.tcp(secure, peer);
      else secure.destroy();
      return;
    }
    if (secure.alpnProtocol === 'h2') {
      // http2 on a TLS socket whose raw socket was paused for the peek reads nothing: give it a JS duplex.
      const duplex = Duplex.from({ readable: secure, writable: secure });
      setPeerIdentity(duplex, peer);
      h2().emit('connection', duplex);
    } else {
      serveHttp1(secure);
    }
  };

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
      const tls = options.tls;
      if (tls && first[0] === TLS_HANDSHAKE) {
        // Not resumed: the TLS socket takes the bytes unshifted above, then reads the handle itself.
        acceptMutualTls(socket, tls);
        return;
      }
      const n = Math.min(first.length, H2_PREFACE.length);
      const isH2 = n > 0 && first.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      const rawTcp = handlers.rawTcp?.() === true;
      if (tls?.strict()) {
        tls.onConnection?.('refused-plaintext');
        // An HTTP/1.1 caller learns why; an h2c one (or a TCP one: an HTTP answer would be garbage to it) only sees the connection close.
        if (isH2 || rawTcp) {
          socket.destroy();
        } else {
          handlers.requestRefused?.(403, 'mtls-required');
          socket.end(rawLocalReply(403, 'mtls-required', 'this sidecar accepts only mutual TLS (MeshConfig mtls.mode is STRICT); call it through your own sidecar', proxyId));
        }
        return;
      }
      tls?.onConnection?.('plaintext');
      if (rawTcp) {
        // A plaintext caller of a TCP app (a client outside the mesh, mode PERMISSIVE): bytes as they come.
        if (handlers.tcp) handlers.tcp(socket, undefined);
        else socket.destroy();
        return;
      }
      if (isH2) {
        // http2 reads the native handle directly and would miss the unshifted preface; a JS
        // duplex over the socket makes it read through the stream, which still holds those bytes.
        h2().emit('connection', Duplex.from({ readable: socket, writable: socket }));
      } else {
        serveHttp1(socket);
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
