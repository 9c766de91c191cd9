// One small HTTP/1.1 request with a deadline, on node:http. Long-running processes (the sidecar)
// use it instead of fetch: loading fetch (undici and web streams) costs a process ~20 MB of RSS.

import { http } from './node-http.ts';

export interface HttpCallOptions {
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON, with content-type set. */
  readonly json?: unknown;
  readonly timeoutMs: number;
  /** Body characters kept at most (default 1 MiB); more is dropped, so a JSON body would not parse. */
  readonly maxBodyBytes?: number;
}

export interface HttpCallResult {
  readonly status: number;
  readonly ok: boolean;
  readonly body: string;
}

const MAX_BODY = 1024 * 1024;

/** Resolves with the status and body (at most `maxBodyBytes`, default 1 MiB, kept); rejects on a network error or the deadline. */
export function httpCall(url: string | URL, options: HttpCallOptions): Promise<HttpCallResult> {
  return new Promise((resolve, reject) => {
    const target = typeof url === 'string' ? new URL(url) : url;
    if (target.protocol !== 'http:') return reject(new Error(`unsupported URL scheme ${target.protocol} in ${target.href}: only http: is spoken here`));
    const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
    const headers: Record<string, string> = { ...options.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = http.request(target, { method: options.method, headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`${options.method} ${target.href}: no answer within ${options.timeoutMs}ms`)), options.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < (options.maxBodyBytes ?? MAX_BODY)) body += chunk;
      });
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, body });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(payload);
  });
}
