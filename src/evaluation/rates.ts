// Per-rule rates of actions (`rate: {max, per}`), counted across every process in Postgres with the generic
// cell rate algorithm: one row per rule and counting key holding the theoretical arrival time (TAT) of the
// next evaluation. An evaluation is allowed when max(TAT, now) + per/max stays within now + per (so `max`
// may come in a burst, then one per per/max), and then moves the TAT: one atomic upsert per rate.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'

export interface RateUse {
  key: string
  max: number
  /** Seconds. */
  per: number
}

/** Within the evaluation's transaction: false when any rate is spent (the caller rolls back the others). */
export async function takeRates(trx: Kysely<DB>, uses: readonly RateUse[], now: Date): Promise<boolean> {
  for (const use of uses) {
    const interval = `${(use.per / use.max) * 1000} milliseconds`
    const window = `${use.per} seconds`
    const { rows } =
      await sql`insert into action_rates as r (rate_key, tat) values (${use.key}, ${now}::timestamptz + ${interval}::interval)
      on conflict (rate_key) do update set tat = greatest(r.tat, ${now}::timestamptz) + ${interval}::interval
      where greatest(r.tat, ${now}::timestamptz) + ${interval}::interval <= ${now}::timestamptz + ${window}::interval
      returning r.tat`.execute(trx)
    if (rows.length === 0) return false
  }
  return true
}
