// Small HTTP helpers for the control plane's API: bounded JSON bodies, JSON replies, and turning
// any thrown error into a `{error: {code, message, details}}` reply without a stack trace.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, isWeftError, WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { storeUnavailable } from '../store/store-errors.ts';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new WeftError('WEFT_ERR_API_BODY_TOO_LARGE', `request body larger than ${MAX_BODY_BYTES} bytes`, 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw new WeftError('WEFT_ERR_API_EMPTY_BODY', 'request body is empty; expected JSON', 400);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WeftError('WEFT_ERR_API_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`, 400);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const unavailable = isWeftError(err) ? undefined : storeUnavailable(err);
  const weftError = isWeftError(err) ? err : (unavailable ?? new WeftError('WEFT_ERR_API_INTERNAL', 'internal error; see the control plane log', 500));
  if (unavailable !== undefined) log.warn('request failed: the store is not answering', { err: errorMessage(err) });
  else if (!isWeftError(err)) log.error('request failed', { err: err instanceof Error ? err.stack : String(err) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, weftError.status, { error: weftError.toJSON() });
}
