// Jittered exponential backoff for reconnects (proxy → control plane, heartbeats): "full jitter",
// so a restarted control plane is not hit by every proxy in the same millisecond.

export interface BackoffOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
  readonly random?: () => number;
}

export interface Backoff {
  /** Delay before the next attempt; grows with each call until `reset()`. */
  next(): number;
  reset(): void;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseMs ?? 200;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(max, base * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      return Math.round(base / 2 + random() * (ceiling - base / 2));
    },
    reset() {
      attempt = 0;
    },
  };
}
