// Failed sign-ins, limited per username (whether or not it exists, so the limit reveals nothing) and per
// source address, across every process: GCRA counters in Postgres (the action_rates table the janitor
// prunes). Each attempt reserves one failure in both before the password is checked, so a burst of
// concurrent guesses is bounded too, and gets it back when it succeeds (OWASP Authentication Cheat Sheet).
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import { addressKey } from '../http/address-key.ts'

export interface FailureLimits {
  perUsername: number
  perAddress: number
  /** Seconds. */
  window: number
}

interface Counter {
  key: string
  max: number
}

const countersOf = (limits: FailureLimits, username: string, address: string): Counter[] => [
  { key: `sign-in:user:${username}`, max: limits.perUsername },
  { key: `sign-in:address:${addressKey(address)}`, max: limits.perAddress },
]

class Spent extends Error {
  readonly retryAfter: number
  constructor(retryAfter: number) {
    super('sign-in failures spent')
    this.retryAfter = retryAfter
  }
}

/** Reserves a failure in each counter; `retryAfter` seconds when one is spent (then nothing is taken). */
export async function reserveAttempt(
  db: Kysely<DB>,
  limits: FailureLimits,
  who: { username: string; address: string },
  now: Date,
): Promise<{ ok: true } | { ok: false; retryAfter: number }> {
  try {
    await db.transaction().execute(async (trx) => {
      for (const counter of countersOf(limits, who.username, who.address)) {
        const interval = `${(limits.window / counter.max) * 1000} milliseconds`
        const window = `${limits.window} seconds`
        const { rows } = await sql`insert into action_rates as r (rate_key, tat)
          values (${counter.key}, ${now}::timestamptz + ${interval}::interval)
          on conflict (rate_key) do update set tat = greatest(r.tat, ${now}::timestamptz) + ${interval}::interval
          where greatest(r.tat, ${now}::timestamptz) + ${interval}::interval <= ${now}::timestamptz + ${window}::interval
          returning r.tat`.execute(trx)
        if (rows.length > 0) continue
        // Allowed again once tat + interval <= now + window.
        const { rows: spent } = await sql<{ wait: number }>`select extract(epoch from
            (r.tat + ${interval}::interval - ${window}::interval - ${now}::timestamptz))::float8 as wait
          from action_rates r where r.rate_key = ${counter.key}`.execute(trx)
        throw new Spent(Math.max(1, Math.ceil(spent[0]?.wait ?? 1)))
      }
    })
    return { ok: true }
  } catch (error) {
    if (error instanceof Spent) return { ok: false, retryAfter: error.retryAfter }
    throw error
  }
}

/** Gives back the reservation of an attempt that did not fail. */
export async function refundAttempt(
  db: Kysely<DB>,
  limits: FailureLimits,
  who: { username: string; address: string },
): Promise<void> {
  for (const counter of countersOf(limits, who.username, who.address)) {
    const interval = `${(limits.window / counter.max) * 1000} milliseconds`
    await sql`update action_rates set tat = tat - ${interval}::interval where rate_key = ${counter.key}`.execute(db)
  }
}
