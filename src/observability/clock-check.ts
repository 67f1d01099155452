// Compares this process's clock with the database's at start and every minute. Expiry is judged with
// the process clock (token exp, task expiry): a node whose clock is off by more than the leeway would
// call expired tokens active, so beyond MANDATE_CLOCK_TOLERANCE it logs an error and reports not ready,
// and the load balancer takes it out until the clock is right again.
import type { Clock } from '../lib/clock.ts'
import { assessSkew, type Skew } from '../lib/clock-skew.ts'
import type { Check } from './health.ts'

export interface ClockCheckDeps {
  clock: Clock
  /** Seconds: MANDATE_CLOCK_TOLERANCE. */
  tolerance: number
  /** The database's current time (clock_timestamp()). */
  databaseNow(): Promise<Date>
  log: {
    error(fields: object, msg: string): void
    warn(fields: object, msg: string): void
    info(fields: object, msg: string): void
  }
  onSkew?(skew: Skew): void
}

const CLOCK_CHECK_INTERVAL = 60

export class ClockCheck {
  readonly #deps: ClockCheckDeps
  #last: (Skew & { checkedAt: number }) | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(deps: ClockCheckDeps) {
    this.#deps = deps
  }

  /** Measures once. A database that cannot answer keeps the last result (the database check is DOWN then). */
  async run(): Promise<void> {
    const { clock, tolerance, log } = this.#deps
    try {
      const sentAt = clock.now()
      const databaseAt = (await this.#deps.databaseNow()).getTime()
      const skew = assessSkew({ sentAt, receivedAt: clock.now(), databaseAt }, tolerance)
      const fields = { offset_s: round(skew.offset), uncertainty_s: round(skew.uncertainty), tolerance_s: tolerance }
      if (skew.beyond) log.error(fields, 'clock differs from the database beyond the tolerance: not ready')
      else if (this.#last?.beyond) log.info(fields, 'clock agrees with the database again')
      this.#last = { ...skew, checkedAt: clock.now() }
      this.#deps.onSkew?.(skew)
    } catch (error) {
      log.warn({ err: error }, 'clock check could not read the database time')
    }
  }

  start(): void {
    this.#timer = setInterval(() => void this.run(), CLOCK_CHECK_INTERVAL * 1000)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** The readiness entry: DOWN while the last measurement was beyond the tolerance (or none could be made). */
  async check(): Promise<Check> {
    if (!this.#last) await this.run()
    const last = this.#last
    if (!last) return { name: 'clock', status: 'DOWN', data: { problem: 'not measured yet' } }
    return {
      name: 'clock',
      status: last.beyond ? 'DOWN' : 'UP',
      data: {
        offset_s: round(last.offset),
        uncertainty_s: round(last.uncertainty),
        tolerance_s: this.#deps.tolerance,
        checked_at: new Date(last.checkedAt * 1000).toISOString(),
      },
    }
  }
}

const round = (seconds: number) => Math.round(seconds * 1000) / 1000
