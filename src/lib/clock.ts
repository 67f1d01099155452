// The one way modules learn the time, so tests can move it. Epoch seconds, like JWT NumericDate.

export interface Clock {
  /** Seconds since the epoch (RFC 7519 §2 NumericDate), an integer. */
  now(): number
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) }

export const toDate = (epochSeconds: number): Date => new Date(epochSeconds * 1000)

export const toEpoch = (date: Date): number => Math.floor(date.getTime() / 1000)
