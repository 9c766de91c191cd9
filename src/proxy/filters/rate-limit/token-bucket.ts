// The local rate limit's unit: one token bucket (Envoy local_ratelimit), refilled continuously from
// the injected clock's time rather than by a timer, so an idle bucket costs nothing.

/**
 * A bucket of at most `capacity` tokens (the policy's `burst`), refilled at `ratePerSecond`; it
 * starts full. Envoy refills `tokens_per_fill` every `fill_interval`; refilling in proportion to the
 * time elapsed is the same bucket with an infinitely small interval (no step at each fill).
 */
export class TokenBucket {
  readonly capacity: number;
  /** Tokens per millisecond. */
  readonly #perMs: number;
  #tokens: number;
  #last: number;

  /** `now` in ms (Clock.now()). */
  constructor(ratePerSecond: number, capacity: number, now: number) {
    this.capacity = capacity;
    this.#perMs = ratePerSecond / 1000;
    this.#tokens = capacity;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
    }
  }

  /** Whether a token is there to take at `now` (ms), without taking it. */
  has(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }

  /** Takes one token if there is one; false otherwise (the request is over the limit). */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whole tokens left at the last refill (the RateLimit field's `r`). */
  remaining(): number {
    return Math.floor(this.#tokens);
  }

  /** Milliseconds until the next whole token (0 when one is there). */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.#perMs;
  }
}
