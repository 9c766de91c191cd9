// Mutual TLS between sidecars: the TLS settings made from this sidecar's certificate (one secure
// context serves both the inbound and the outbound end), the check that a peer's certificate names
// the SPIFFE ID expected of it, and the identity a peer proved on an inbound connection.

import type { PeerCertificate, SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import { parseSpiffeId } from '../../config/identity.ts';
import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import type { TlsSessionCache } from './tls-session-cache.ts';

/** This sidecar's certificate as the CA issued it: plain strings, so it crosses to worker threads. */
export interface Credentials {
  readonly identity: string;
  /** Private key, PEM (PKCS#8). Never leaves the sidecar's process. */
  readonly key: string;
  readonly certificate: string;
  readonly trustBundle: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly serial: string;
}

export interface MeshTls {
  readonly identity: string;
  readonly context: SecureContext;
  /** What `context` was made from: a tls.Server takes options, not a context (setSecureContext). */
  readonly options: SecureContextOptions;
}

/** Loaded on first use: node:tls costs a sidecar that never sees a certificate several MB of RSS. */
function tlsModule(): typeof import('node:tls') {
  return process.getBuiltinModule('node:tls');
}

/**
 * The TLS settings of this sidecar's certificate. `ticketKeys` (48 bytes): the keys the inbound side
 * encrypts its session tickets with; one sidecar's threads share them, so a ticket issued by one
 * worker resumes on another (without, each tls.Server makes its own and a caller resumes only on
 * the thread that served it first).
 */
export function createMeshTls(credentials: Credentials, ticketKeys?: Uint8Array): MeshTls {
  // TLS 1.3 only: both ends are weft sidecars, and 1.3 needs one round trip less per handshake.
  const options: SecureContextOptions = {
    key: credentials.key,
    cert: credentials.certificate,
    ca: credentials.trustBundle,
    minVersion: 'TLSv1.3',
    ...(ticketKeys !== undefined && { ticketKeys: Buffer.from(ticketKeys.buffer, ticketKeys.byteOffset, ticketKeys.byteLength) }),
  };
  let context: SecureContext | undefined;
  return {
    identity: credentials.identity,
    options,
    // Made at the first mutual-TLS connection: a sidecar that only calls plaintext endpoints never loads node:tls.
    get context() {
      return (context ??= tlsModule().createSecureContext(options));
    },
  };
}

/** One SAN entry as Node writes them: `TYPE:value`, the value JSON-quoted when it has special characters. */
const SAN_ENTRY = /([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;

/** The URI SANs of a certificate as Node reports them (`URI:a, DNS:b, ...`). */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const uris: string[] = [];
  SAN_ENTRY.lastIndex = 0;
  for (let m = SAN_ENTRY.exec(subjectaltname); m !== null && m[0] !== ''; m = SAN_ENTRY.exec(subjectaltname)) {
    if (m[1] !== 'URI') continue;
    const value = m[2]!;
    uris.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return uris;
}

/** The SPIFFE ID a certificate names: exactly one URI SAN, and a well-formed weft identity. */
export function certificateIdentity(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  const uris = uriSans(cert?.subjectaltname);
  if (uris.length !== 1 || !parseSpiffeId(uris[0]!)) return undefined;
  return uris[0];
}

/**
 * For tls.connect's checkServerIdentity: the chain is already verified against the trust bundle;
 * this checks that the certificate belongs to the service the snapshot says is there (a host name
 * means nothing in the mesh: endpoints are addresses).
 */
export function expectIdentity(expected: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const got = certificateIdentity(cert);
    if (got === expected) return undefined;
    return Object.assign(new Error(`peer certificate names ${got ?? `no SPIFFE ID (SAN ${JSON.stringify(cert.subjectaltname ?? '')})`}, expected ${expected}`), { code: 'WEFT_TLS_WRONG_IDENTITY' });
  };
}

const PEER_IDENTITY = Symbol('weft.peerIdentity');
type MarkedSocket = { [PEER_IDENTITY]?: string };

/** Remembers the identity a peer proved on this connection (read per request by peerIdentity). */
export function markPeerIdentity(socket: TLSSocket): string | undefined {
  const identity = certificateIdentity(socket.getPeerCertificate());
  setPeerIdentity(socket, identity);
  return identity;
}

/** For a stream that stands in for the TLS socket (HTTP/2 reads through a JS duplex). */
export function setPeerIdentity(socket: object, identity: string | undefined): void {
  (socket as MarkedSocket)[PEER_IDENTITY] = identity;
}

/** The peer's SPIFFE ID on a mutual-TLS connection; undefined for plaintext. */
export function peerIdentity(socket: object | undefined | null): string | undefined {
  // HTTP/2 hands out a proxy of the session's socket, which forwards property reads to it.
  return socket ? (socket as MarkedSocket)[PEER_IDENTITY] : undefined;
}

/**
 * The ALPN protocol id a client sidecar offers for a TCP connection carried through the mesh: the
 * server sidecar then pipes the connection's bytes to its app instead of parsing HTTP.
 */
export const WEFT_TCP_ALPN = 'weft-tcp';

/** How to reach one endpoint's sidecar in mutual TLS: this sidecar's context, the identity expected there. */
export interface EndpointTls {
  readonly context: SecureContext;
  readonly identity: string;
}

/** Session resumption for one endpoint (tls-session-cache.ts), and what each handshake was, for the metrics. */
export interface TlsResumption {
  readonly sessions: TlsSessionCache;
  /** The endpoint's TlsSessionCache.key. */
  readonly key: string;
  /** Each completed client handshake: `resumed` true when the server accepted the offered session. */
  readonly onHandshake?: (resumed: boolean) => void;
}

export interface DialOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: EndpointTls & { readonly alpn: string };
  /** Offer the endpoint's last session and keep the ones it issues (mutual TLS only). */
  readonly resumption?: TlsResumption;
}

/**
 * A connection to an endpoint, plaintext or mutual TLS, and the event that says it is ready for
 * bytes. With `resumption`, the endpoint's last TLS session is offered (a TLS 1.3 PSK resumption,
 * RFC 8446 §2.2, skips the certificate exchange and both signatures) and the sessions it issues are
 * kept. Node does not call checkServerIdentity on a resumed session (nor can it: the client sees no
 * certificate then), so what makes a resumed session safe is where it came from: Node emits
 * 'session' only once the connection is verified, here with checkServerIdentity against `identity`,
 * and the cache key names that identity, so a session is offered only where the same identity is
 * expected, and only a server holding the issuing sidecar's ticket keys can accept it.
 */
export function dialEndpoint(o: DialOptions): { socket: import('node:net').Socket; ready: 'connect' | 'secureConnect' } {
  if (!o.tls) return { socket: process.getBuiltinModule('node:net').connect({ host: o.host, port: o.port, noDelay: true }), ready: 'connect' };
  const r = o.resumption;
  const context = o.tls.context;
  const identity = o.tls.identity;
  const session = r?.sessions.get(r.key, context);
  const socket = tlsModule().connect({
    host: o.host,
    port: o.port,
    secureContext: context,
    ALPNProtocols: [o.tls.alpn],
    checkServerIdentity: expectIdentity(identity),
    ...(session !== undefined && { session }),
  });
  socket.setNoDelay(true);
  if (r !== undefined) {
    socket.on('session', (s: Buffer) => r.sessions.set(r.key, context, s));
    socket.once('secureConnect', () => r.onHandshake?.(socket.isSessionReused()));
  }
  return { socket, ready: 'secureConnect' };
}

/** The trust domain of a SPIFFE ID, or undefined when it is not a weft one. */
export function trustDomainOf(identity: string | undefined): string | undefined {
  return identity === undefined ? undefined : parseSpiffeId(identity)?.trustDomain;
}

/**
 * The snapshot a client sidecar may dial: an endpoint's identity must be in this sidecar's own trust
 * domain and the destination service's namespace (derived from the destination; the service name may
 * differ only for a Service whose selector picks instances of other services, which a selector does
 * within its namespace). Other endpoints are dropped. The same object when nothing is dropped.
 */
export function restrictToTrustDomain(snapshot: ProxySnapshot, trustDomain: string): ProxySnapshot {
  const allowed = (service: { name: string; namespace: string }, identity: string | undefined): boolean => {
    if (identity === undefined) return true;
    const id = parseSpiffeId(identity);
    return id !== undefined && id.trustDomain === trustDomain && id.namespace === service.namespace;
  };
  let dropped = false;
  for (const s of snapshot.services) for (const p of s.ports) for (const e of p.endpoints) if (!allowed(s, e.identity)) dropped = true;
  if (!dropped) return snapshot;
  return {
    ...snapshot,
    services: snapshot.services.map((s) => ({ ...s, ports: s.ports.map((p) => ({ ...p, endpoints: p.endpoints.filter((e) => allowed(s, e.identity)) })) })),
  };
}
