// Bounded maps of token buckets for the local limits keyed by caller identity or header value:
// least recently used first out, so a caller sending random keys cannot grow a proxy's memory.

import { TokenBucket } from './token-bucket.ts';

/**
 * Buckets by key, at most `maxKeys` (the oldest-used one is dropped to make room; a dropped key
 * that comes back starts with a full bucket, which is the price of the bound). A JS Map keeps
 * insertion order, so re-inserting on use makes its first key the least recently used.
 */
export class BucketMap {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #maxKeys: number;
  readonly #create: (key: string, now: number) => TokenBucket;

  /** `create`: the bucket for a new key (its rate and burst may depend on the key: overrides). */
  constructor(maxKeys: number, create: (key: string, now: number) => TokenBucket) {
    this.#maxKeys = maxKeys;
    this.#create = create;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** The key's bucket, created when new, and marked most recently used. */
  get(key: string, now: number): TokenBucket {
    let b = this.#buckets.get(key);
    if (b !== undefined) {
      this.#buckets.delete(key);
    } else {
      b = this.#create(key, now);
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    this.#buckets.set(key, b);
    return b;
  }

  has(key: string): boolean {
    return this.#buckets.has(key);
  }
}
