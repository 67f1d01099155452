// A bounded map of entries with an end time: least recently used out first when full, expired ones
// out when met. Time is passed in (epoch seconds), so the rules stay testable without a clock.

export class ExpiringLru<V> {
  readonly #entries = new Map<string, { value: V; until: number }>()
  readonly #max: number

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0) throw new TypeError('cache size must be a non-negative integer')
    this.#max = max
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    this.#entries.delete(key)
    if (entry.until <= now) return undefined
    this.#entries.set(key, entry) // Map order is insertion order: re-inserting marks it most recent
    return entry.value
  }

  set(key: string, value: V, until: number): void {
    this.#entries.delete(key)
    if (this.#max === 0) return
    this.#entries.set(key, { value, until })
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }
}
