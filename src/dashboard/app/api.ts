// The dashboard's only way to data: the control plane's /v1 API on the same origin, with the
// user's token as `Authorization: Bearer`. The token lives in sessionStorage (this tab only, gone
// when it closes) and never in a URL, so it cannot leak into access logs, history or referrers.

const TOKEN_KEY = 'weft.token';

/** The API refused the credential (401) or the role (403): the UI shows the login prompt. */
export class AuthError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The API answered 404 (e.g. an endpoint this control plane does not have yet). */
export class NotFoundError extends Error {}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * GET a /v1 path as JSON with the stored token (or `token` when given). Throws AuthError on
 * 401/403, NotFoundError on 404, Error with the API's `{error: {code, message}}` otherwise.
 */
export async function getJson<T>(path: string, token: string | null = getToken()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
  if (res.ok) return (await res.json()) as T;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error) message = `${body.error.code}: ${body.error.message}`;
  } catch {
    // Not JSON: keep the status line.
  }
  if (res.status === 401 || res.status === 403) throw new AuthError(res.status, message);
  if (res.status === 404) throw new NotFoundError(message);
  throw new Error(message);
}
