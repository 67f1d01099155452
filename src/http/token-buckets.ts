// Token buckets keyed by a string, in this process's memory: up to `capacity` at once, refilled evenly at
// `perSecond`. Bounded: past `maxKeys` the least recently spent bucket is forgotten (a full bucket again).
// Pure: the caller passes the time, so the limits are tested as values.

interface Bucket {
  tokens: number
  at: number
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>()
  readonly #capacity: number
  readonly #perSecond: number
  readonly #maxKeys: number

  constructor(limits: { capacity: number; perSecond: number; maxKeys: number }) {
    this.#capacity = limits.capacity
    this.#perSecond = limits.perSecond
    this.#maxKeys = limits.maxKeys
  }

  /** Seconds until `key` may spend a token: 0 when it may now. */
  waitSeconds(key: string, now: number): number {
    const bucket = this.#buckets.get(key)
    if (!bucket) return 0
    const tokens = this.#refilled(bucket, now)
    return tokens >= 1 ? 0 : (1 - tokens) / this.#perSecond
  }

  /** Spends one token of `key` (never below zero: a burst past the check does not lengthen the wait). */
  spend(key: string, now: number): void {
    const bucket = this.#buckets.get(key)
    const tokens = bucket ? this.#refilled(bucket, now) : this.#capacity
    // Delete and set again: a Map iterates in insertion order, so the first key is the least recent.
    this.#buckets.delete(key)
    this.#buckets.set(key, { tokens: Math.max(0, tokens - 1), at: now })
    while (this.#buckets.size > this.#maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value as string)
    }
  }

  /** Gives back a token spent ahead of time (a reservation that was not needed), never beyond capacity. */
  refund(key: string, now: number): void {
    const bucket = this.#buckets.get(key)
    if (!bucket) return
    this.#buckets.set(key, { tokens: Math.min(this.#capacity, this.#refilled(bucket, now) + 1), at: now })
  }

  get size(): number {
    return this.#buckets.size
  }

  #refilled(bucket: Bucket, now: number): number {
    return Math.min(this.#capacity, bucket.tokens + Math.max(0, now - bucket.at) * this.#perSecond)
  }
}
