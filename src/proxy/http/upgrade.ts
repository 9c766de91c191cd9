// Upgrade requests (WebSocket and other HTTP/1.1 protocols) on both handlers: which requests ask to
// upgrade, which are refused, and the response for one that node:http handed over as a raw socket.
// The request itself is forwarded like any other (forward.ts); only a 101 from upstream splices.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { H1ServerResponse } from '../transport/h1-server-message.ts';
import type { AnyRequest, AnyResponse } from './forward.ts';

/** A request the handler answers itself (400 bad-request), with why. */
export interface UpgradeRefusal {
  readonly refuse: string;
}

/** RFC 9110 §7.8: protocol-name ["/" protocol-version], both tokens. */
const PROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/;

/** Requests node:http handed over with their body unread (its 'upgrade' event does not parse bodies). */
const unframed = new WeakSet<object>();

/**
 * What an HTTP/1.1 request asks for: undefined for an ordinary request (no `Upgrade`, or one not
 * named by `Connection`, or only `h2c`, which is stripped: weft speaks h2c only with prior
 * knowledge, and RFC 9113 §3.1 retired the upgrade), the protocols to ask upstream for (the
 * `Upgrade` value without `h2c`), or a refusal: an upgrade on HTTP/1.0 (RFC 9110 §7.8 has a server
 * ignore it; a proxy cannot know the next hop would), a malformed protocol list, or a body that
 * node:http left unframed.
 */
export function requestedUpgrade(req: AnyRequest, res: AnyResponse): string | undefined | UpgradeRefusal {
  if (req.httpVersionMajor !== 1) return undefined;
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined) return undefined;
  const connection = req.headers.connection;
  if (connection === undefined || !connection.toLowerCase().split(',').some((t) => t.trim() === 'upgrade')) return undefined;
  if (unframed.has(req)) {
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return { refuse: 'an upgrade request with a body is not accepted on this connection' };
  }
  const protocols: string[] = [];
  for (const item of upgrade.split(',')) {
    const protocol = item.trim();
    if (protocol === '') continue;
    if (!PROTOCOL.test(protocol)) return { refuse: `malformed Upgrade: ${JSON.stringify(upgrade)}` };
    if (protocol.toLowerCase() !== 'h2c') protocols.push(protocol);
  }
  if (protocols.length === 0) return undefined;
  if (req.httpVersionMinor === 0) return { refuse: 'Upgrade is not accepted on HTTP/1.0' };
  // Only the lean server's responses (and upgradeEventResponse's) can hand their socket over.
  if (!(res instanceof H1ServerResponse)) return undefined;
  return protocols.join(', ');
}

/**
 * Whether a 101's `Upgrade` names only protocols the request offered (RFC 9110 §7.8: a server
 * switches to one of them). `offered`: the value requestedUpgrade returned.
 */
export function upgradeAccepted(offered: string, answered: string | undefined): boolean {
  if (answered === undefined) return false;
  const asked = offered.toLowerCase().split(',').map((p) => p.trim());
  const got = answered.toLowerCase().split(',').map((p) => p.trim()).filter((p) => p !== '');
  return got.length > 0 && got.every((p) => asked.includes(p));
}

/**
 * A response for an upgrade request that node:http handed over as a raw socket (its 'upgrade'
 * event), written as the lean server writes. A 101 hands over `head` (the bytes node:http read past
 * the request head) with the socket; after any other answer `adopt` gives the socket, `head` put
 * back, to node:http again, so the connection goes on as HTTP. It closes instead when the request
 * said so (HTTP/1.0, `Connection: close`) or declared a body, which node:http left unread.
 */
export function upgradeEventResponse(req: IncomingMessage, socket: Duplex, head: Buffer, adopt: (socket: Duplex) => void): H1ServerResponse {
  unframed.add(req);
  const raw = socket as Socket;
  const length = req.headers['content-length'];
  const body = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  const close = body || req.httpVersionMinor === 0 || (req.headers.connection ?? '').toLowerCase().split(',').some((t) => t.trim() === 'close');
  const onError = (): void => {
    raw.destroy();
  };
  const onClose = (): void => {
    if (!res.finished) res.abort();
  };
  const owner = {
    socket: raw,
    closeAfterResponse: close,
    requestDone: (): void => {},
    responseDone: (): void => {
      if (close || raw.destroyed) {
        raw.end();
        return;
      }
      // Handed back: this exchange's listeners go, or a connection of many refused upgrades piles them up.
      raw.off('error', onError);
      raw.off('close', onClose);
      if (head.length > 0) raw.unshift(head);
      adopt(raw);
    },
    switchProtocols: (): Buffer => head,
  };
  const res = new H1ServerResponse(owner, req.method ?? 'GET');
  raw.on('error', onError);
  raw.once('close', onClose);
  return res;
}
