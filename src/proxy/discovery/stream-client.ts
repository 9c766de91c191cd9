// The proxy's end of the config stream: connects to the control plane, says hello, hands each
// snapshot or delta to a receiver (ACK, or NACK with field errors while the last good snapshot stays
// in force), and reconnects with jittered backoff, to the next control-plane replica when there are
// several, resuming from the snapshot it holds. Traffic never waits on it.

import type { ClientRequest } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { NodeInfo, ProxySnapshot } from '../../config/snapshot-types.ts';
import { createLineSplitter, STREAM_PATH, STREAM_PING_MS, type ControlMessage, type ProxyMessage, type TrustMessage } from '../../config/stream-protocol.ts';
import { createSnapshotReceiver, type Received } from './snapshot-receiver.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { createWatch, type Watch } from '../../lib/watch.ts';
import type { Logger } from '../../lib/log.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { ControlAuth } from './control-auth.ts';
import { createControlTarget, type ControlTarget } from './control-target.ts';

export interface StreamClientOptions {
  readonly controlUrl: string;
  /** Several control-plane replicas (`--control a,b`): the stream moves to the next one when its own is lost. */
  readonly control?: ControlTarget;
  /** The sidecar's credential (its certificate's proof), asked anew for each connection. */
  readonly auth: ControlAuth;
  readonly node: NodeInfo;
  readonly log: Logger;
  /** Extra check before ACK (e.g. building balancers); a thrown error becomes a NACK. */
  readonly accept?: (snapshot: ProxySnapshot) => void;
  readonly onUpdate?: (result: 'ack' | 'nack') => void;
  /** Each time the stream is up again after it was lost (not the first time). */
  readonly onReconnect?: () => void;
  /** Each time the stream is up, the first time too, once hello is sent (e.g. to report the app's health). */
  readonly onConnect?: () => void;
  /** The control plane refused this sidecar's credential (401): its certificate is no longer one it accepts. */
  readonly onUnauthorized?: () => void;
  /** The CA's roots and issuer, at each connect and on every change (a root rotation). */
  readonly onTrust?: (trust: TrustMessage) => void;
}

export interface StreamClient {
  /** The snapshot in force; undefined until the first good one arrives. */
  readonly snapshot: Watch<ProxySnapshot | undefined>;
  /** The control-plane replica it is connected (or connecting) to. */
  url(): string;
  connected(): boolean;
  lastError(): string | undefined;
  /** Sends a message up the current stream (after hello); false when there is none (nothing is queued). */
  send(msg: ProxyMessage): boolean;
  close(): void;
}

export function startStreamClient(options: StreamClientOptions): StreamClient {
  const { log } = options;
  const snapshot = createWatch<ProxySnapshot | undefined>(undefined);
  const target = options.control ?? createControlTarget({ urls: [options.controlUrl] });
  // Full jitter, capped (control-target.ts); kept only for failures before hello (signing).
  const backoff = createBackoff({ baseMs: 200, maxMs: 5_000 });
  // One receiver for the client's life: what it accepted stays the base a resumed stream (another
  // replica, or this one back) renumbers with an empty delta (see the hello's `resume`).
  const receiver = createSnapshotReceiver(options.accept);
  let isConnected = false;
  let everConnected = false;
  let lastError: string | undefined;
  let closed = false;
  let current: ClientRequest | undefined;
  let sendCurrent: ((msg: ProxyMessage) => boolean) | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (closed) return;
    const base = target.current();
    const url = new URL(STREAM_PATH, base);
    let auth: Record<string, string>;
    try {
      auth = await options.auth.headers('POST', url.pathname);
    } catch (err) {
      lastError = `cannot sign the stream request: ${errorMessage(err)}`;
      retryTimer = setTimeout(() => void connect(), backoff.next());
      return;
    }
    if (closed) return;
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked', ...auth };
    const req = http.request(url, { method: 'POST', headers, agent: false });
    current = req;
    let silenceTimer: NodeJS.Timeout | undefined;
    let ended = false;
    const send = (msg: ProxyMessage): boolean => {
      if (ended) return false;
      req.write(JSON.stringify(msg) + '\n');
      return true;
    };
    const resetSilence = (): void => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => req.destroy(new Error(`no message from the control plane for ${(3 * STREAM_PING_MS) / 1000}s`)), 3 * STREAM_PING_MS);
    };
    const retry = (why: string): void => {
      if (ended) return;
      ended = true;
      sendCurrent = undefined;
      clearTimeout(silenceTimer);
      if (isConnected && !closed) log.warn('control plane stream lost; serving the last snapshot', { why });
      isConnected = false;
      lastError = why;
      if (closed) return;
      const delay = target.failed(base);
      log.debug('reconnecting to the control plane', { url: target.current(), inMs: delay });
      retryTimer = setTimeout(() => void connect(), delay);
    };

    // A control plane that accepts the connection but never answers must not hold us forever.
    const answerTimer = setTimeout(() => req.destroy(new Error('the control plane did not answer the stream within 10s')), 10_000);
    req.on('error', (err) => {
      clearTimeout(answerTimer);
      retry(errorMessage(err));
    });
    req.on('response', (res) => {
      clearTimeout(answerTimer);
      if (res.statusCode !== 200) {
        if (res.statusCode === 401) options.onUnauthorized?.();
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => retry(`control plane answered ${res.statusCode}: ${body.trim().slice(0, 300)}`));
        return;
      }
      isConnected = true;
      lastError = undefined;
      backoff.reset();
      target.succeeded();
      log.info('connected to the control plane', { url: base });
      if (everConnected) options.onReconnect?.();
      everConnected = true;
      sendCurrent = send;
      options.onConnect?.();
      resetSilence();
      const handle = (r: Received): void => {
        send(r.reply);
        if (r.snapshot) snapshot.set(r.snapshot);
        // A resync is neither applied nor refused configuration: the full snapshot follows.
        if (r.reply.type === 'nack' && r.reply.resync) {
          log.info('cannot apply a delta; asking for the full snapshot', { version: r.reply.version, errors: describe(r.reply.errors) });
          return;
        }
        options.onUpdate?.(r.reply.type);
        if (r.reply.type === 'ack') log.debug('snapshot applied', { version: r.reply.version, kind: r.kind });
        else log.warn(`refusing ${r.kind}; keeping the last good snapshot`, { version: r.reply.version, errors: describe(r.reply.errors) });
      };
      const split = createLineSplitter((line) => {
        let msg: ControlMessage;
        try {
          msg = JSON.parse(line) as ControlMessage;
        } catch {
          log.warn('ignoring a stream message that is not JSON');
          return;
        }
        if (msg === null || typeof msg !== 'object') return log.warn('ignoring a stream message that is not a JSON object');
        if (msg.type === 'snapshot') handle(receiver.snapshot(msg.snapshot));
        else if (msg.type === 'delta') handle(receiver.delta(msg));
        else if (msg.type === 'trust') {
          if (typeof msg.trustBundle === 'string' && typeof msg.issuer === 'string') options.onTrust?.({ trustBundle: msg.trustBundle, issuer: msg.issuer });
        } else if (msg.type === 'error') {
          lastError = `control plane refused the stream: ${msg.code}: ${msg.message}`;
          log.error('control plane refused the stream', { code: msg.code, message: msg.message });
        }
      });
      res.on('data', (chunk: Buffer) => {
        resetSilence();
        split(chunk);
      });
      res.on('end', () => retry('control plane closed the stream'));
      res.on('error', (err) => retry(errorMessage(err)));
      res.on('close', () => retry('control plane stream closed'));
    });
    req.flushHeaders();
    const held = snapshot.get();
    send({ type: 'hello', node: options.node, ...(held && { resume: { version: held.version, hash: held.hash } }) });
  };

  void connect();
  return {
    snapshot,
    url: () => target.current(),
    connected: () => isConnected,
    lastError: () => lastError,
    send: (msg) => (isConnected && sendCurrent ? sendCurrent(msg) : false),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      current?.destroy();
    },
  };
}

function describe(errors: readonly { path: string; message: string }[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
