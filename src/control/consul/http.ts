// HTTP plumbing of the Consul listener: Consul-style replies (JSON with X-Consul-Index and the
// leader headers, errors as plain text), bounded bodies, and the blocking-query parameters.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../lib/clock.ts';
import { isWeftError, WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { ConsulAgent } from './agent.ts';
import type { WaitKey } from './change-index.ts';
import { parseGoDuration } from './duration.ts';
import { badRequest } from './errors.ts';
import { parseBody } from './decode.ts';

/** Everything an endpoint needs. */
export interface ConsulContext {
  readonly agent: ConsulAgent;
  readonly clock: Clock;
  readonly log: Logger;
  /** Jitter source for blocking waits, [0, 1). */
  readonly random: () => number;
  /** `host:port` this listener answers on (what /v1/status/leader names). */
  readonly address: () => string;
}

/** Consul's bound on a blocking query's wait, and its default (api docs: "blocking queries"). */
export const MAX_WAIT_MS = 10 * 60_000;
export const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_BODY_BYTES = 1024 * 1024;
const DRAIN_BYTES = 8 * 1024 * 1024;

/**
 * Reads a request body as JSON (undefined when empty); 400 for invalid JSON. Past 1 MiB it is
 * 413, after the rest is read and dropped (up to 8 MiB, then the connection is cut), so that the
 * client, still sending, reads the answer instead of a reset connection.
 */
export function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (size > DRAIN_BYTES) req.destroy();
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        reject(new WeftError('WEFT_ERR_CONSUL_BODY_TOO_LARGE', `Request body too large: more than ${MAX_BODY_BYTES} bytes`, 413));
        return;
      }
      try {
        resolve(parseBody(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** A JSON answer the way Consul sends one: X-Consul-Index (when the endpoint has one) and the leader headers. */
export function sendJson(res: ServerResponse, url: URL, body: unknown, index?: number): void {
  const text = url.searchParams.has('pretty') ? JSON.stringify(body, null, 4) + '\n' : JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-consul-knownleader': 'true', 'x-consul-lastcontact': '0', 'x-consul-default-acl-policy': 'deny' };
  if (index !== undefined) headers['x-consul-index'] = String(index);
  res.writeHead(200, headers);
  res.end(text);
}

/** An empty 200 (what Consul's write endpoints answer), carrying the current index like Consul's do. */
export function sendEmpty(res: ServerResponse, index: number): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 0, 'x-consul-index': String(index) });
  res.end();
}

/** Any error as Consul answers one: its status and its message as plain text; no stack traces. */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const e = isWeftError(err) ? err : new WeftError('WEFT_ERR_CONSUL_INTERNAL', 'internal error; see the control plane log', 500);
  if (!isWeftError(err)) log.error('consul api request failed', { err: err instanceof Error ? err.stack : String(err) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = e.message + '\n';
  res.writeHead(e.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-weft-error-code': e.code });
  res.end(text);
}

/** Whether a boolean query flag is on: present with no value, or a value Go's ParseBool reads as true. 400 otherwise. */
export function flag(url: URL, name: string): boolean {
  if (!url.searchParams.has(name)) return false;
  const v = url.searchParams.get(name)!;
  if (v === '' || ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw badRequest(`Invalid value for ?${name}`);
}

/** `?index=` and `?wait=` of a blocking query: 400 with Consul's wording when malformed. */
export function blockingParams(url: URL): { index: number; waitMs: number } {
  const rawIndex = url.searchParams.get('index');
  const rawWait = url.searchParams.get('wait');
  let index = 0;
  if (rawIndex !== null && rawIndex !== '') {
    if (!/^\d+$/.test(rawIndex) || !Number.isSafeInteger(Number(rawIndex))) throw badRequest('Invalid index');
    index = Number(rawIndex);
  }
  let waitMs = DEFAULT_WAIT_MS;
  if (rawWait !== null && rawWait !== '') {
    const ms = parseGoDuration(rawWait);
    if (ms === undefined || ms < 0) throw badRequest('Invalid wait time');
    waitMs = Math.min(ms, MAX_WAIT_MS);
  }
  return { index, waitMs };
}

/**
 * Runs a blocking query's wait: with `?index=N` (N > 0) parks until `key` changes past N or the
 * wait (plus Consul's jitter of up to wait/16) runs out, or the client goes away. Returns at once
 * without an index, or when the index already passed N.
 */
export async function block(ctx: ConsulContext, req: IncomingMessage, url: URL, key: WaitKey): Promise<void> {
  const { index, waitMs } = blockingParams(url);
  if (index === 0) return;
  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  req.socket.once('close', onClose);
  try {
    await ctx.agent.index.wait(key, index, waitMs + Math.floor(ctx.random() * (waitMs / 16)), abort.signal);
  } finally {
    req.socket.off('close', onClose);
  }
}

/** Only datacenter `dc1` exists; Consul answers any other with 500 "No path to datacenter". */
export function checkDatacenter(url: URL): void {
  const dc = url.searchParams.get('dc');
  if (dc && dc !== 'dc1') throw new WeftError('WEFT_ERR_CONSUL_NO_DATACENTER', 'No path to datacenter', 500);
  const ns = url.searchParams.get('ns');
  if (ns && ns !== 'default') throw badRequest(`Namespace ${JSON.stringify(ns)}: weft's Consul API serves the default namespace only`);
  if (url.searchParams.has('filter')) throw badRequest('filter expressions are not supported by weft\'s Consul API: use ?tag= or ?passing');
}
