// How the demo apps call each other: a plain fetch by service name (`http://reviews/...`). `weft
// run` put the sidecar in HTTP_PROXY with NODE_USE_ENV_PROXY=1, so fetch goes through it (as a
// CONNECT tunnel that the sidecar terminates and routes by service name).

export interface MeshResponse {
  readonly status: number;
  /** Lower-case header names. */
  header(name: string): string | undefined;
  readonly body: string;
}

export async function meshGet(url: string, timeoutMs: number): Promise<MeshResponse> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await r.text();
  return { status: r.status, header: (name) => r.headers.get(name) ?? undefined, body };
}

/** A short word for why a call failed before any response: the error code, or its message. */
export function failureReason(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string }; message?: string };
  if (e?.name === 'TimeoutError') return 'timeout';
  return e?.cause?.code ?? e?.code ?? e?.message ?? String(err);
}
