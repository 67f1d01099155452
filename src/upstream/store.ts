// upstream_logins rows: an upstream sign-in in flight, from the redirect to the provider to its callback.
// A row is taken once (DELETE … RETURNING), so a state answers one callback, within its lifetime.
import type { Kysely, Selectable } from 'kysely'
import type { DB, UpstreamLoginsTable } from '../db/schema.ts'

export type UpstreamLogin = Selectable<UpstreamLoginsTable>

export async function recordUpstreamLogin(db: Kysely<DB>, row: UpstreamLogin): Promise<void> {
  await db.insertInto('upstream_logins').values(row).execute()
}

/** The row of this state, deleted as it is read; undefined when unknown, already taken or expired. */
export async function takeUpstreamLogin(db: Kysely<DB>, state: string, now: Date): Promise<UpstreamLogin | undefined> {
  return db
    .deleteFrom('upstream_logins')
    .where('state', '=', state)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst()
}
