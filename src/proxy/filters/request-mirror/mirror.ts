// Gateway API RequestMirror: a copy of the request goes to another Service, its response is read and
// dropped, and nothing about it can delay or fail the original. Body bytes are teed as the original
// streams them; a mirror that falls more than MAX_MIRROR_BUFFER_BYTES behind is abandoned.

import type { IncomingHttpHeaders } from 'node:http';
import type { ServicePortEntry } from '../../balance/service-table.ts';
import type { UpstreamPool } from '../../transport/upstream-pool.ts';
import { BODY_CHUNKED, BODY_NONE, BODY_RAW, requestHead, type ExtraHeaders, type H1Exchange, type H1Handler } from '../../transport/h1-client.ts';

/** Bytes a mirror may hold (waiting for its connection, or unsent in its socket) before it is dropped. */
export const MAX_MIRROR_BUFFER_BYTES = 1024 * 1024;

/** A mirror still running after this (its body never ended, or its backend never answered) is closed. */
export const MAX_MIRROR_MS = 30_000;

/** Where the original's body bytes go as they stream: the forwarding path calls these. */
export interface MirrorTee {
  chunk(data: Buffer): void;
  end(): void;
}

/** The request to copy: method, the normalized origin-form target, its fields and its body framing. */
export interface MirroredRequest {
  readonly method: string;
  readonly path: string;
  /** The Host the original carries; the copy gets `<host>-shadow` (Envoy's convention) so apps can tell. */
  readonly authority: string;
  readonly rawHeaders: readonly string[];
  readonly headers: IncomingHttpHeaders;
  /** The parser's framing decision: undefined no body, -1 chunked, N bytes. */
  readonly bodyLength: number | undefined;
  readonly extra: ExtraHeaders;
}

/** `host[:port]` with `-shadow` added to the host part. */
function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon > 0 && !authority.endsWith(']') ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`;
}

/** One mirrored exchange; its response is discarded. */
class Mirror implements H1Handler, MirrorTee {
  #ex: H1Exchange | undefined;
  #ready = false;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ended = false;
  #dead = false;
  readonly #head: string;
  readonly #body: number;
  readonly #timer: NodeJS.Timeout;

  constructor(head: string, body: number) {
    this.#head = head;
    this.#body = body;
    this.#timer = setTimeout(() => this.#abandon(), MAX_MIRROR_MS);
    this.#timer.unref();
  }

  /** The mirror's response ended (or it failed): nothing more to guard. */
  finished(): void {
    clearTimeout(this.#timer);
  }

  attach(ex: H1Exchange): void {
    this.#ex ??= ex;
  }

  onReady(ex: H1Exchange): void {
    if (this.#dead) return;
    this.#ex = ex;
    this.#ready = true;
    ex.writeHead(this.#head, this.#body);
    for (const c of this.#pending) ex.writeBody(c);
    this.#pending = [];
    if (this.#ended && this.#body !== BODY_NONE) ex.endBody();
  }

  chunk(data: Buffer): void {
    if (this.#dead) return;
    if (!this.#ready) {
      this.#pendingBytes += data.length;
      if (this.#pendingBytes > MAX_MIRROR_BUFFER_BYTES) return this.#abandon();
      this.#pending.push(Buffer.from(data));
      return;
    }
    const ex = this.#ex!;
    ex.writeBody(data);
    // Too far behind: the original must not wait for it, nor may memory grow for it.
    if ((ex.conn?.socket.writableLength ?? 0) > MAX_MIRROR_BUFFER_BYTES) this.#abandon();
  }

  end(): void {
    this.#ended = true;
    if (this.#ready && !this.#dead && this.#body !== BODY_NONE) this.#ex!.endBody();
  }

  #abandon(): void {
    clearTimeout(this.#timer);
    this.#dead = true;
    this.#pending = [];
    this.#ex?.destroy();
  }

  // The response is read to its end and dropped; failures only end the mirror.
  onHead(): void {}
  onData(): void {}
  onEnd(): void {}
  onError(): void {
    this.#dead = true;
    clearTimeout(this.#timer);
  }
}

/**
 * Starts a mirror of `req` to one endpoint of `entry` (its balancer picks; the pick is reported as
 * it goes, so a mirror's load counts). Returns the tee for the body, or undefined when there is
 * nothing to send to (no endpoint, or no certificate yet for an endpoint that needs mutual TLS).
 * The copy goes as HTTP/1.1.
 */
export function startMirror(pool: UpstreamPool, entry: ServicePortEntry, req: MirroredRequest): MirrorTee | undefined {
  const pick = entry.balancer.picker().pick();
  if (pick.kind !== 'endpoint') return undefined;
  const ep = pick.endpoint;
  if (ep.identity !== undefined && pool.tls === undefined) {
    pick.done({ ok: false, connectFailure: true, latencyMs: 0 });
    return undefined;
  }
  const body = req.bodyLength === undefined ? BODY_NONE : req.bodyLength < 0 ? BODY_CHUNKED : BODY_RAW;
  const head = requestHead(req.method, req.path, shadowAuthority(req.authority), req.rawHeaders, {
    connection: typeof req.headers.connection === 'string' ? req.headers.connection : undefined,
    extra: req.extra,
    bodyLength: req.bodyLength,
  });
  const mirror = new Mirror(head, body);
  const started = performance.now();
  const tls = ep.identity === undefined ? undefined : { context: pool.tls!.context, identity: ep.identity };
  const timeouts = entry.policy.timeouts;
  const handler: H1Handler = {
    onReady: (ex) => mirror.onReady(ex),
    onHead: () => {},
    onData: () => {},
    onEnd: () => {
      mirror.finished();
      pick.done({ ok: true, latencyMs: performance.now() - started });
    },
    onError: (_err, stage) => {
      mirror.onError();
      pick.done({ ok: false, connectFailure: stage === 'connect', latencyMs: performance.now() - started });
    },
  };
  mirror.attach(pool.h1(ep.address, ep.port, ep.identity).request(handler, { connectMs: timeouts.connectMs, idleMs: timeouts.idleMs, noResponseBody: req.method === 'HEAD', tls }));
  if (body === BODY_NONE) mirror.end();
  return mirror;
}
