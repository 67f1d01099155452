// upstream_logins rows: an upstream sign-in in flight, from the redirect to the provider to its callback.
// A row is taken once (DELETE … RETURNING), so a state answers one callback, within its lifetime.
import type { Kysely, Selectable } from 'kysely'
import type { DB, UpstreamLoginsTable } from '../db/schema.ts'

export type UpstreamLogin = Selectable<UpstreamLoginsTable>

export async function recordUpstreamLogin(db: Kysely<DB>, row: UpstreamLogin): Promise<void> {
  await db.insertInto('upstream_logins').values(row).execute()
}

/** The interaction a live state belongs to, read without taking it (the callback's first hop). */
export async function upstreamLoginInteraction(db: Kysely<DB>, state: string, now: Date): Promise<string | undefined> {
  const row = await db
    .selectFrom('upstream_logins')
    .select('interaction_uid')
    .where('state', '=', state)
    .where('expires_at', '>', now)
    .executeTakeFirst()
  return row?.interaction_uid
}

/**
 * The row of this state, deleted as it is read; undefined when unknown, already taken, expired, or issued
 * for another interaction than `interactionUid` (when given).
 */
export async function takeUpstreamLogin(
  db: Kysely<DB>,
  state: string,
  now: Date,
  interactionUid?: string,
): Promise<UpstreamLogin | undefined> {
  let query = db.deleteFrom('upstream_logins').where('state', '=', state).where('expires_at', '>', now)
  if (interactionUid !== undefined) query = query.where('interaction_uid', '=', interactionUid)
  return query.returningAll().executeTakeFirst()
}
