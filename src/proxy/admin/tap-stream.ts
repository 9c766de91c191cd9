// The admin listener's GET /tap: one NDJSON line per finished request a tap shows, and every second
// with drops a `{"type":"dropped"}` line. The control plane's /v1/tap (and so `weft tap`) reads it.
// The response is the tap: when the reader goes away, the tap is detached at once.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { NDJSON, parseTapQuery, type TapDroppedLine } from '../../config/tap.ts';
import type { TapSessions } from '../observe/tap-sessions.ts';

/** How often a stream reports its drops (only when there were some). */
export const TAP_DROPPED_EVERY_MS = 1_000;

function refuse(res: ServerResponse, status: number, error: { code: string; message: string; details?: unknown }): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error }) + '\n');
}

/**
 * Serves one tap on `res`: 400 (WEFT_ERR_TAP_INVALID_QUERY, with the parameters at fault) for a bad
 * query, 429 (WEFT_ERR_TAP_TOO_MANY) when the sidecar's taps are all taken, else a 200 stream that
 * lasts until the reader closes it. An event meets a reader that has not taken the previous ones
 * (the socket's buffer is full) is dropped and counted: nothing is queued beyond that buffer.
 */
export function serveTap(req: IncomingMessage, res: ServerResponse, search: string, sessions: TapSessions, proxy: string, droppedEveryMs = TAP_DROPPED_EVERY_MS): void {
  const parsed = parseTapQuery(new URLSearchParams(search));
  if (!parsed.ok) {
    return refuse(res, 400, { code: 'WEFT_ERR_TAP_INVALID_QUERY', message: `invalid tap query: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, details: parsed.errors });
  }
  const session = sessions.open(parsed.value, (e) => {
    if (res.writableNeedDrain || res.destroyed) return false;
    res.write(JSON.stringify(e) + '\n');
    return true;
  });
  if (session === undefined) {
    return refuse(res, 429, { code: 'WEFT_ERR_TAP_TOO_MANY', message: `this sidecar already serves ${sessions.size} taps, its most at once; stop one and try again` });
  }
  res.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
  // The headers go now: the reader knows it is attached before the first request ends.
  res.flushHeaders();
  if (req.method === 'HEAD') {
    session.close();
    res.end();
    return;
  }
  const timer = setInterval(() => {
    // A reader that has not taken what was written gets nothing more: the count keeps growing in
    // the tap (a number, not a queue) and goes out once the socket drains.
    if (res.writableNeedDrain || res.destroyed) return;
    const dropped = session.takeDropped();
    if (dropped > 0) res.write(JSON.stringify({ type: 'dropped', proxy, dropped } satisfies TapDroppedLine) + '\n');
  }, droppedEveryMs);
  timer.unref();
  res.once('close', () => {
    clearInterval(timer);
    session.close();
  });
}
