// One batch of each kind of expired row, as one DELETE each. Every function deletes at most `limit`
// rows, oldest first, skipping rows another transaction holds, and returns how many it deleted.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'

export type Prunable =
  | 'issued_tokens'
  | 'oidc_payloads'
  | 'webhook_deliveries'
  | 'decisions'
  | 'audit_events'
  | 'action_rates'
  | 'upstream_logins'

const deleted = (result: { numAffectedRows?: bigint }) => Number(result.numAffectedRows ?? 0n)

/**
 * Lineage rows expired before the cutoff, leaves first: never a token that another row names as its
 * parent (so a kept token's whole ancestor chain stays, and the parent_jti foreign key holds), nor one
 * in the depends_on of a token still kept. Activity reads ancestors and depends_on at read time
 * (lineage/tokens.ts): a revoked token must outlive everything it ends. A chain goes one level per batch.
 */
export async function pruneTokens(db: Kysely<DB>, cutoff: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from issued_tokens where jti in (
      select t.jti from issued_tokens t
      where t.expires_at < ${cutoff}
        and not exists (select 1 from issued_tokens c where c.parent_jti = t.jti)
        and not exists (
          select 1 from issued_tokens d
          where d.depends_on <> '{}' and d.depends_on @> array[t.jti] and d.expires_at >= ${cutoff})
      order by t.expires_at
      limit ${limit}
      for update of t skip locked)`.execute(db),
  )
}

/** oidc-provider artefacts (replay detection, grants, sessions) past their own expiry. */
export async function prunePayloads(db: Kysely<DB>, cutoff: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from oidc_payloads where (model, id) in (
      select model, id from oidc_payloads where expires_at < ${cutoff}
      order by expires_at limit ${limit} for update skip locked)`.execute(db),
  )
}

/** Webhook deliveries finished (delivered, or failed for good) before the cutoff; pending ones always stay. */
export async function pruneWebhooks(db: Kysely<DB>, cutoff: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from webhook_deliveries where delivery_id in (
      select delivery_id from webhook_deliveries
      where (delivered_at is not null or failed_at is not null) and coalesce(delivered_at, failed_at) < ${cutoff}
      order by coalesce(delivered_at, failed_at) limit ${limit} for update skip locked)`.execute(db),
  )
}

export async function pruneDecisions(db: Kysely<DB>, cutoff: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from decisions where decision_id in (
      select decision_id from decisions where created_at < ${cutoff}
      order by created_at limit ${limit} for update skip locked)`.execute(db),
  )
}

/**
 * Audit events are append-only by trigger; it lets a transaction delete rows older than the cutoff it
 * names in mandate.audit_prune_before (migration 0006, decision 0004), so call this inside one.
 */
export async function pruneAudit(trx: Kysely<DB>, cutoff: Date, limit: number): Promise<number> {
  await sql`select set_config('mandate.audit_prune_before', ${cutoff.toISOString()}, true)`.execute(trx)
  return deleted(
    await sql`delete from audit_events where event_id in (
      select event_id from audit_events where occurred_at < ${cutoff}
      order by occurred_at limit ${limit} for update skip locked)`.execute(trx),
  )
}

/**
 * Rate counters whose theoretical arrival time has passed: such a row allows exactly what no row does
 * (evaluation/rates.ts), so deleting it changes no answer.
 */
export async function pruneRates(db: Kysely<DB>, now: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from action_rates where rate_key in (
      select rate_key from action_rates where tat < ${now}
      order by tat limit ${limit} for update skip locked)`.execute(db),
  )
}

/** Upstream sign-ins nobody came back from (a used one is deleted when it is taken). */
export async function pruneUpstreamLogins(db: Kysely<DB>, now: Date, limit: number): Promise<number> {
  return deleted(
    await sql`delete from upstream_logins where state in (
      select state from upstream_logins where expires_at < ${now}
      order by expires_at limit ${limit} for update skip locked)`.execute(db),
  )
}
