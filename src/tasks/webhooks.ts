// Pushes task completions to resource servers that asked for it (Resource.revocationWebhook): a
// signed Security Event Token (RFC 8417, typ secevent+jwt) POSTed as in RFC 8935, from an outbox
// written in the completion's own transaction, retried with backoff, never blocking completion.
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { type Kysely, type Selectable, sql } from 'kysely'
import type { DB, WebhookDeliveriesTable } from '../db/schema.ts'
import type { KeyRing } from '../keys/ring.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import type { TaskOutcome } from './outcome.ts'
import { inTaskTree, type TaskRow } from './store.ts'

/** The event type URI of a completed task (RFC 8417 §2.2 `events` member name). */
export const TASK_COMPLETED_EVENT = 'urn:mandate:secevent:task-completed'
const MAX_ATTEMPTS = 8
const backoff = (attempts: number) => Math.min(2 ** attempts, 300) // seconds: 2, 4, 8 … 5 min

export interface WebhookDeps {
  db: Kysely<DB>
  clock: Clock
  ring: KeyRing
  issuer: string
  log: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void }
  /** POSTs under the outbound rules: no forbidden address after DNS, no redirects followed. */
  fetchOutbound: OutboundFetch
}

/**
 * Writes one signed event per subscribed resource into the outbox (same transaction): every resource of
 * the task tree, and every audience of a revoked token (a token can depend on the task without being
 * issued for it, through its subject or actor token).
 */
export async function enqueueTaskCompleted(
  trx: Kysely<DB>,
  deps: Pick<WebhookDeps, 'clock' | 'ring' | 'issuer'>,
  task: TaskRow,
  outcome: TaskOutcome,
  revokedJtis: readonly string[],
): Promise<number> {
  const tree = await trx.selectFrom('tasks').select(['task_id', 'resources']).where(inTaskTree(task.task_id)).execute()
  const tokens = revokedJtis.length
    ? await trx
        .selectFrom('issued_tokens')
        .select(['jti', 'aud'])
        // One array parameter, however many tokens the completion ended (Postgres allows 65,535 parameters).
        .where((eb) => eb('jti', '=', eb.fn.any(eb.val(revokedJtis))))
        .execute()
    : []
  const uris = [...new Set([...tree.flatMap((t) => t.resources), ...tokens.flatMap((t) => t.aud)])]
  const subscribers = await trx
    .selectFrom('resources')
    .select(['uri', 'revocation_webhook'])
    .where((eb) => eb('uri', '=', eb.fn.any(eb.val(uris))))
    .where('revocation_webhook', 'is not', null)
    .execute()
  if (subscribers.length === 0) return 0
  for (const subscriber of subscribers) {
    await enqueueEvent(trx, deps, {
      subscriber: subscriber.uri,
      url: subscriber.revocation_webhook as string,
      type: TASK_COMPLETED_EVENT,
      event: {
        task_id: task.task_id,
        subtask_ids: tree.map((t) => t.task_id).filter((id) => id !== task.task_id),
        outcome,
        revoked_jtis: tokens.filter((t) => t.aud.includes(subscriber.uri)).map((t) => t.jti),
      },
    })
  }
  return subscribers.length
}

/**
 * One signed Security Event Token (RFC 8417: typ secevent+jwt, our issuer, the subscriber as audience) in the
 * outbox, in the caller's transaction; the dispatcher pushes it (RFC 8935) and retries it.
 */
export async function enqueueEvent(
  trx: Kysely<DB>,
  deps: Pick<WebhookDeps, 'clock' | 'issuer'> & { ring: Pick<KeyRing, 'signingKey'> },
  delivery: { subscriber: string; url: string; type: string; event: Record<string, unknown> },
): Promise<void> {
  const now = deps.clock.now()
  const { kid, privateKey } = deps.ring.signingKey()
  const event = await new SignJWT({ events: { [delivery.type]: delivery.event } })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'secevent+jwt', kid })
    .setIssuer(deps.issuer)
    .setAudience(delivery.subscriber)
    .setIssuedAt(now)
    .setJti(randomUUID())
    .sign(privateKey)
  await trx
    .insertInto('webhook_deliveries')
    .values({
      delivery_id: randomUUID(),
      resource: delivery.subscriber,
      url: delivery.url,
      event,
      created_at: toDate(now),
      next_attempt_at: toDate(now),
    })
    .execute()
}

export class WebhookDispatcher {
  readonly #deps: WebhookDeps
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  #stopped = false

  constructor(deps: WebhookDeps) {
    this.#deps = deps
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.kick(), intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running
  }

  /** Delivers what is due now, in the background; a kick during a run schedules one more run. */
  kick(): void {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.#deliverDue()
      .catch((error) => this.#deps.log.warn({ err: error }, 'webhook delivery round failed'))
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          this.kick()
        }
      })
  }

  async #deliverDue(): Promise<void> {
    const { db, clock } = this.#deps
    const now = clock.now()
    // Claim with a lease (skip locked): several processes may run dispatchers side by side. One
    // statement: an idle poll is one read, and no transaction.
    const { rows: due } = await sql<
      Pick<Selectable<WebhookDeliveriesTable>, 'delivery_id' | 'url' | 'event' | 'attempts'>
    >`
      update webhook_deliveries set next_attempt_at = ${toDate(now + 60)}
      where delivery_id in (
        select delivery_id from webhook_deliveries
        where delivered_at is null and failed_at is null and next_attempt_at <= ${toDate(now)}
        order by next_attempt_at limit 20
        for update skip locked)
      returning delivery_id, url, event, attempts`.execute(db)
    await Promise.all(due.map((delivery) => this.#deliver(delivery)))
  }

  async #deliver(
    delivery: Pick<Selectable<WebhookDeliveriesTable>, 'delivery_id' | 'url' | 'event' | 'attempts'>,
  ): Promise<void> {
    const { db, clock, log, fetchOutbound } = this.#deps
    let problem: string | undefined
    try {
      const response = await fetchOutbound(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
        body: delivery.event,
        signal: AbortSignal.timeout(5000),
      })
      if (!response.ok) problem = `HTTP ${response.status}`
    } catch (error) {
      problem = (error as Error).message
    }
    const now = clock.now()
    const attempts = delivery.attempts + 1
    if (problem === undefined) {
      await db
        .updateTable('webhook_deliveries')
        .set({ attempts, delivered_at: toDate(now), last_error: null })
        .where('delivery_id', '=', delivery.delivery_id)
        .execute()
      return
    }
    log.warn(
      { delivery_id: delivery.delivery_id, url: delivery.url, attempts, problem },
      'revocation webhook delivery failed',
    )
    await db
      .updateTable('webhook_deliveries')
      .set({
        attempts,
        last_error: problem,
        next_attempt_at: toDate(now + backoff(attempts)),
        ...(attempts >= MAX_ATTEMPTS ? { failed_at: toDate(now) } : {}),
      })
      .where('delivery_id', '=', delivery.delivery_id)
      .execute()
  }
}
