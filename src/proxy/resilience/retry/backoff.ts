// The wait before a retry (forward.ts asks it when a failure may go again): exponential with
// "equal jitter", never below the base interval (GEP-1731) and never above the max (Envoy).

/**
 * The wait before retry number `n` (1 for the first), in ms. The ceiling doubles from 2 × base
 * (`min(max, base × 2^n)`); the wait is drawn uniformly from its upper half (equal jitter, as in
 * "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). Equal rather than full jitter
 * (Envoy's) because GEP-1731 makes `backoff` the minimum wait: the lower half never goes below
 * base. With base 25 and max 250: [25, 50], [50, 100], [100, 200], [125, 250], [125, 250], …
 * `random` returns [0, 1) (seeded in tests). 0 when base is 0.
 */
export function retryBackoffMs(baseMs: number, maxMs: number, n: number, random: () => number = Math.random): number {
  if (baseMs <= 0) return 0;
  const ceiling = Math.max(baseMs, Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(1, n))));
  const floor = Math.max(baseMs, ceiling / 2);
  return Math.floor(floor + random() * (ceiling - floor));
}
