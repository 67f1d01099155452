// Prunes expired rows on a timer, on one process at a time. Every batch is its own short transaction
// that first takes pg_try_advisory_xact_lock: the lock dies with the transaction (a process that loses
// its connection or is paused mid-run holds nothing), and a process that finds it taken stops its
// run, since another is pruning. Decision 0004 records why.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import {
  type Prunable,
  pruneAudit,
  pruneDecisions,
  prunePayloads,
  pruneRates,
  pruneTokens,
  pruneUpstreamLogins,
  pruneWebhooks,
} from './prune.ts'

export interface JanitorSettings {
  /** Seconds between runs; 0: never on a timer. */
  interval: number
  tokenRetention: number
  webhookRetention: number
  /** Unset: decisions are kept. */
  decisionRetention?: number | undefined
  /** Unset: audit events are kept. */
  auditRetention?: number | undefined
}

export interface JanitorDeps {
  db: Kysely<DB>
  clock: Clock
  settings: JanitorSettings
  /** Seconds of clock leeway: a replay-cache entry is kept that much past its expiry. */
  clockTolerance: number
  log: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void }
  onRun?(result: JanitorResult): void
}

export interface JanitorResult {
  /** busy: another process held the lock, this one stopped. */
  outcome: 'done' | 'busy' | 'failed'
  pruned: Record<Prunable, number>
}

const BATCH = 1000
/** Batches of one kind in one run: a large backlog is worked off over several runs, never in one long burst. */
const MAX_BATCHES = 500

/**
 * One pass over every kind, oldest rows first. Never throws: a failure is the outcome 'failed'. An aborted
 * signal (the process stopping) ends the pass after the current batch.
 */
export async function runJanitor(deps: JanitorDeps, signal?: AbortSignal): Promise<JanitorResult> {
  const { settings, clockTolerance } = deps
  const now = deps.clock.now()
  const before = (seconds: number) => toDate(now - seconds)
  const kinds: Array<[Prunable, (db: Kysely<DB>) => Promise<number>]> = [
    ['issued_tokens', (db) => pruneTokens(db, before(settings.tokenRetention), BATCH)],
    ['oidc_payloads', (db) => prunePayloads(db, before(clockTolerance), BATCH)],
    ['webhook_deliveries', (db) => pruneWebhooks(db, before(settings.webhookRetention), BATCH)],
    ['action_rates', (db) => pruneRates(db, toDate(now), BATCH)],
    ['upstream_logins', (db) => pruneUpstreamLogins(db, toDate(now), BATCH)],
  ]
  const { decisionRetention, auditRetention } = settings
  if (decisionRetention !== undefined)
    kinds.push(['decisions', (db) => pruneDecisions(db, before(decisionRetention), BATCH)])
  if (auditRetention !== undefined) kinds.push(['audit_events', (db) => pruneAudit(db, before(auditRetention), BATCH)])

  const pruned = emptyPruned()
  try {
    for (const [kind, prune] of kinds) {
      for (let batch = 0; batch < MAX_BATCHES && !signal?.aborted; batch++) {
        const count = await underLock(deps.db, prune)
        if (count === 'busy') return { outcome: 'busy', pruned }
        pruned[kind] += count
        // Tokens go leaves first, so a short batch can still leave parents freed by it: stop on none.
        if (count === 0 || (kind !== 'issued_tokens' && count < BATCH)) break
      }
    }
    return { outcome: 'done', pruned }
  } catch (error) {
    deps.log.warn({ err: error, pruned }, 'janitor run failed; the next run continues')
    return { outcome: 'failed', pruned }
  }
}

async function underLock(db: Kysely<DB>, prune: (trx: Kysely<DB>) => Promise<number>): Promise<number | 'busy'> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(hashtextextended('mandate.janitor', 0)) as locked`.execute(trx)
    return rows[0]?.locked ? prune(trx) : 'busy'
  })
}

/** Runs the janitor every interval, the first run at a random point of the first interval (processes spread out). */
export class Janitor {
  readonly #deps: JanitorDeps
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  readonly #stopping = new AbortController()

  constructor(deps: JanitorDeps) {
    this.#deps = deps
  }

  start(): void {
    const interval = this.#deps.settings.interval * 1000
    if (interval === 0) return
    const tick = () => {
      this.#timer = setTimeout(tick, interval)
      this.#timer.unref()
      this.#run()
    }
    this.#timer = setTimeout(tick, Math.floor(Math.random() * interval))
    this.#timer.unref()
  }

  /** One pass now, unless one is still running. */
  #run(): void {
    if (this.#running || this.#stopping.signal.aborted) return
    this.#running = runJanitor(this.#deps, this.#stopping.signal)
      .then((result) => {
        this.#deps.onRun?.(result)
        const total = Object.values(result.pruned).reduce((sum, n) => sum + n, 0)
        if (total > 0) this.#deps.log.info({ ...result }, 'janitor pruned expired rows')
      })
      .finally(() => {
        this.#running = undefined
      })
  }

  /** Stops the timer and waits for the batch in progress (each is bounded by MANDATE_DATABASE_TIMEOUT). */
  async stop(): Promise<void> {
    this.#stopping.abort()
    clearTimeout(this.#timer)
    await this.#running
  }
}

const emptyPruned = (): Record<Prunable, number> => ({
  issued_tokens: 0,
  oidc_payloads: 0,
  webhook_deliveries: 0,
  decisions: 0,
  audit_events: 0,
  action_rates: 0,
  upstream_logins: 0,
})
