// How CLI verbs talk to the control plane: JSON over HTTP with the bearer token, and API errors
// turned back into WeftErrors (code, message and field paths) for the user.

import { WeftError } from '../lib/errors.ts';

export class ApiClient {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(base: string, token?: string) {
    this.#base = base;
    this.#token = token;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.#base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new WeftError('WEFT_ERR_CLI_UNREACHABLE', `cannot reach the control plane at ${this.#base} (${cause}); set --control or WEFT_CONTROL`, 1);
    }
    return (await this.#json(res)) as T;
  }

  /**
   * GET a streaming endpoint (NDJSON): the response once its headers are in, its body unread. An
   * error status is thrown as the API's WeftError; `signal` ends the stream (and the request).
   */
  async open(path: string, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/x-ndjson' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    // A deadline for the headers only: the body streams for as long as the caller wants.
    const headersDeadline = new AbortController();
    const timer = setTimeout(() => headersDeadline.abort(), 15_000);
    let res: Response;
    try {
      res = await fetch(new URL(path, this.#base), { method: 'GET', headers, signal: AbortSignal.any([signal, headersDeadline.signal]) });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = headersDeadline.signal.aborted ? 'no answer within 15s' : (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new WeftError('WEFT_ERR_CLI_UNREACHABLE', `cannot reach the control plane at ${this.#base} (${cause}); set --control or WEFT_CONTROL`, 1);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) await this.#json(res);
    return res;
  }

  /** The body as JSON; an error status thrown as the API's WeftError (code, message, field paths). */
  async #json(res: Response): Promise<unknown> {
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new WeftError('WEFT_ERR_CLI_BAD_RESPONSE', `control plane answered ${res.status} with non-JSON: ${text.slice(0, 200)}`, 1);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: { path: string; message: string }[] } })?.error;
      throw new WeftError(e?.code ?? 'WEFT_ERR_CLI_API', e?.message ?? `control plane answered ${res.status}`, 1, e?.details ?? []);
    }
    return json;
  }
}
