// The byte path of a TCP connection carried through a sidecar (client app ⇄ client sidecar ⇄ mTLS ⇄
// server sidecar ⇄ server app): two sockets piped into each other, a half-close (FIN) passed on as a
// half-close and a reset (RST, or an error) passed on as a reset, with the bytes each way counted.

import type { Socket } from 'node:net';

export interface PipeResult {
  /** Bytes read from `a` and written to `b`. */
  readonly sent: number;
  /** Bytes read from `b` and written to `a`. */
  readonly received: number;
  /** True when either side ended with an error or a reset rather than two FINs. */
  readonly reset: boolean;
}

/**
 * Aborts a socket so the peer sees a reset (RST) where the platform allows it (plain TCP:
 * `resetAndDestroy`), else just destroys it (a TLS socket: the raw socket under it is destroyed).
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    if (typeof socket.resetAndDestroy === 'function' && !('encrypted' in socket)) {
      socket.resetAndDestroy();
      return;
    }
  } catch {
    // Not connected yet, or a handle without reset: a plain destroy below.
  }
  socket.destroy();
}

/**
 * Pipes `a` and `b` into each other with back-pressure. A FIN from one side ends the other's
 * writable side (both sockets must allow half-open), so request/response protocols that close their
 * sending half first still get their answer; an error or reset on one side resets the other.
 * `onDone` runs once, after both sockets are closed.
 */
export function pipeSockets(a: Socket, b: Socket, onDone?: (result: PipeResult) => void): void {
  let sent = 0;
  let received = 0;
  let reset = false;
  let closed = 0;
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  const abort = (other: Socket) => (): void => {
    reset = true;
    resetSocket(other);
  };
  a.on('error', abort(b));
  b.on('error', abort(a));
  const onClose = (): void => {
    if (++closed === 2) onDone?.({ sent, received, reset });
  };
  // A side that closes without both FINs exchanged (destroyed locally, or reset) takes the other down.
  a.once('close', (hadError) => {
    if (hadError) reset = true;
    if (!b.destroyed && (hadError || !a.readableEnded)) abort(b)();
    else if (!b.destroyed && b.readableEnded) b.destroy();
    onClose();
  });
  b.once('close', (hadError) => {
    if (hadError) reset = true;
    if (!a.destroyed && (hadError || !b.readableEnded)) abort(a)();
    else if (!a.destroyed && a.readableEnded) a.destroy();
    onClose();
  });
  a.on('data', (chunk: Buffer) => {
    sent += chunk.length;
    if (!b.write(chunk)) a.pause();
  });
  b.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (!a.write(chunk)) b.pause();
  });
  b.on('drain', () => a.resume());
  a.on('drain', () => b.resume());
  // Half-close: the FIN goes on; each socket closes once both directions have ended.
  a.on('end', () => {
    b.end();
    if (a.writableFinished) a.destroy();
  });
  b.on('end', () => {
    a.end();
    if (b.writableFinished) b.destroy();
  });
  a.on('finish', () => {
    if (a.readableEnded) a.destroy();
  });
  b.on('finish', () => {
    if (b.readableEnded) b.destroy();
  });
  a.resume();
  b.resume();
}
