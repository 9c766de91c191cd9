// Which control-plane replica a sidecar talks to: a list of URLs (`--control a,b`, or one name that
// resolves to several addresses), one current.
// The config stream decides: when its stream is lost it moves to the next URL after a jittered,
// capped exponential backoff; certificates, registration, heartbeats and stats follow the current.

import { isIP } from 'node:net';

export interface ControlTargetOptions {
  /** One or more `http://HOST:PORT` URLs, in order of preference (the first is tried first). */
  readonly urls: readonly string[];
  /** First backoff ceiling (ms, default 200); doubles per failed attempt. */
  readonly baseMs?: number;
  /** Cap of the backoff ceiling (ms, default 5 000). */
  readonly maxMs?: number;
  /** [0, 1); tests seed it. */
  readonly random?: () => number;
}

export interface ControlTarget {
  /** Every URL, in order of preference. */
  readonly urls: readonly string[];
  /** The URL every client uses now. */
  current(): string;
  /**
   * The current URL failed (connection refused or lost, no answer): moves to the next one (wrapping
   * around) and returns how long to wait before trying it (ms). Full jitter ("Exponential Backoff
   * and Jitter", AWS Architecture Blog): uniform in [0, min(max, base × 2^attempts)), so a fleet
   * that lost its replica does not hit the next one in the same millisecond. With one URL it
   * stays on it. `url` is the one that failed: a failure reported for a URL that is no longer
   * current (another client already moved on) changes nothing and waits the base ceiling.
   */
  failed(url: string): number;
  /** The current URL answered: the backoff starts over. */
  succeeded(): void;
}

/**
 * Splits `--control` (comma-separated URLs) into its URLs; throws with the offending entry when one
 * is not an http(s) URL, carries a path, query or fragment (the clients add the API's own paths, so
 * `http://h:7700/v1` would silently lose its `/v1`), or names the same control plane twice (most
 * likely a typo for a second replica). Empty entries (a trailing comma) are ignored.
 */
export function parseControlUrls(text: string): string[] {
  const urls = text.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 0) throw new Error('--control needs at least one URL');
  const seen = new Map<string, string>();
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new Error(`--control: ${JSON.stringify(u)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`--control: ${JSON.stringify(u)} must be an http:// or https:// URL`);
    if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') throw new Error(`--control: ${JSON.stringify(u)} must be the control plane's origin only (scheme://host:port), without a path, query or fragment`);
    const twin = seen.get(parsed.origin);
    if (twin !== undefined) throw new Error(`--control: ${JSON.stringify(u)} names the same control plane as ${JSON.stringify(twin)}; list each replica once`);
    seen.set(parsed.origin, u);
  }
  return urls;
}

/** How a hostname resolves: every address (node:dns `lookup` with `all: true` in production). */
export type LookupAll = (hostname: string) => Promise<readonly { readonly address: string; readonly family: number }[]>;

/**
 * One `--control` URL whose hostname resolves to several addresses (a DNS name for the replicas)
 * becomes one URL per address, in the resolver's order; anything else is returned as it is (a
 * list, an IP address, a name with one address, or a name that does not resolve now: the clients
 * then retry it by name). Resolved once, at start.
 */
export async function expandControlUrls(urls: readonly string[], lookup: LookupAll): Promise<string[]> {
  if (urls.length !== 1) return [...urls];
  const url = new URL(urls[0]);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // localhost resolves to 127.0.0.1 and ::1, which are one machine, not two replicas.
  if (isIP(host) !== 0 || host === 'localhost') return [...urls];
  let addresses: readonly { address: string; family: number }[];
  try {
    addresses = await lookup(host);
  } catch {
    return [...urls];
  }
  const unique = [...new Set(addresses.map((a) => (a.family === 6 ? `[${a.address}]` : a.address)))];
  if (unique.length < 2) return [...urls];
  return unique.map((address) => {
    const u = new URL(url.href);
    u.hostname = address;
    // `new URL` adds a `/` path; keep the URL as it was written otherwise.
    return url.pathname === '/' && !urls[0].endsWith('/') ? u.href.slice(0, -1) : u.href;
  });
}

export function createControlTarget(options: ControlTargetOptions): ControlTarget {
  if (options.urls.length === 0) throw new Error('a control target needs at least one URL');
  const urls = [...options.urls];
  const base = options.baseMs ?? 200;
  const max = options.maxMs ?? 5_000;
  const random = options.random ?? Math.random;
  let index = 0;
  let attempts = 0;
  return {
    urls,
    current: () => urls[index],
    failed(url) {
      if (url !== urls[index]) return Math.round(random() * base);
      const ceiling = Math.min(max, base * 2 ** attempts);
      attempts = Math.min(attempts + 1, 30);
      index = (index + 1) % urls.length;
      return Math.round(random() * ceiling);
    },
    succeeded() {
      attempts = 0;
    },
  };
}
