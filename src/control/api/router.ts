// A tiny method + path-pattern router for the API (`/v1/resources/:plural/:namespace/:name`).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { WeftError } from '../../lib/errors.ts';

export type Params = Readonly<Record<string, string>>;
export type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => unknown;

interface Route {
  readonly method: string;
  readonly parts: readonly string[];
  readonly handler: Handler;
}

export class Router {
  readonly #routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /**
   * The handler and params for a request, `'method'` if only the method is wrong, or undefined.
   * Throws 400 WEFT_ERR_API_BAD_REQUEST (naming the parameter) when the only route the path fits
   * has a parameter that is not valid percent-encoding (RFC 3986 §2.1, e.g. `/v1/requests/%ZZ`):
   * "no API route" would send the caller looking for a typo in the route.
   */
  match(method: string, pathname: string): { handler: Handler; params: Params } | 'method' | undefined {
    const parts = pathname.split('/').filter(Boolean);
    let methodMismatch = false;
    let badParam: { name: string; raw: string } | undefined;
    for (const route of this.#routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      let undecodable: { name: string; raw: string } | undefined;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = route.parts[i];
        if (want.startsWith(':')) {
          try {
            params[want.slice(1)] = decodeURIComponent(parts[i]);
          } catch {
            undecodable ??= { name: want.slice(1), raw: parts[i] };
          }
        } else ok = want === parts[i];
      }
      if (!ok) continue;
      if (undecodable !== undefined) {
        if (route.method === method) badParam ??= undecodable;
        continue;
      }
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { handler: route.handler, params };
    }
    if (badParam !== undefined) {
      const message = `is not valid percent-encoding, got ${JSON.stringify(badParam.raw.slice(0, 200))}`;
      throw new WeftError('WEFT_ERR_API_BAD_REQUEST', `${badParam.name} ${message}`, 400, [{ path: badParam.name, message }]);
    }
    return methodMismatch ? 'method' : undefined;
  }
}
