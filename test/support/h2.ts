// HTTP/2 cleartext (h2c) for integration tests: an in-process gRPC-style app (length-prefixed
// messages, grpc-status in trailers) and a prior-knowledge client that reports headers, body, trailers.

import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface SeenH2Request {
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface H2App {
  readonly port: number;
  /** Every request the app received, in order. */
  readonly seen: SeenH2Request[];
  close(): Promise<void>;
}

/** gRPC framing: one uncompressed message, 1 flag byte + 4-byte big-endian length. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export function grpcUnframe(data: Buffer): Buffer {
  if (data.length < 5) throw new Error(`short gRPC frame (${data.length} bytes)`);
  const len = data.readUInt32BE(1);
  return data.subarray(5, 5 + len);
}

/**
 * An h2c app: answers every stream with status 200, the request's message echoed back (framed as
 * it came), and trailers `grpc-status: 0`; a path ending in `/Fail` answers grpc-status 5 instead.
 */
export async function startH2App(): Promise<H2App> {
  const seen: SeenH2Request[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ headers, body });
      const fail = String(headers[':path']).endsWith('/Fail');
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-app': 'h2' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(fail ? { 'grpc-status': '5', 'grpc-message': 'not found' } : { 'grpc-status': '0' }));
      stream.end(body);
    });
    stream.on('error', () => {});
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface H2Response {
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
}

/** One request on an existing session; resolves when the stream ends. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (resHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ headers: resHeaders, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** A prior-knowledge h2c session (no upgrade, no TLS). */
export function h2Connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
    session.once('error', reject);
  });
}
