// How far this process's clock is from the database's, from one round trip: the database's time is
// compared with the middle of the local interval around it (NTP's offset estimate). Pure.

export interface SkewSample {
  /** Local epoch seconds (Clock.now(), whole seconds) just before asking and just after the answer. */
  sentAt: number
  receivedAt: number
  /** The database's time, epoch milliseconds. */
  databaseAt: number
}

export interface Skew {
  /** Seconds the database is ahead of this process (negative: behind). */
  offset: number
  /** Seconds the offset may be off by: half the round trip plus the local clock's whole-second grain. */
  uncertainty: number
  /** True only when the clocks differ by more than the tolerance whatever the uncertainty. */
  beyond: boolean
}

export function assessSkew(sample: SkewSample, toleranceSeconds: number): Skew {
  // Whole seconds: the local time lies in [sentAt, receivedAt + 1).
  const middle = (sample.sentAt + sample.receivedAt + 1) / 2
  const offset = sample.databaseAt / 1000 - middle
  const uncertainty = (sample.receivedAt + 1 - sample.sentAt) / 2
  return { offset, uncertainty, beyond: Math.abs(offset) - uncertainty > toleranceSeconds }
}
