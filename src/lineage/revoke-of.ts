// Revoking every unexpired token that hangs on a party about to be deleted. The activity rule reads a
// client's or user's row to end their tokens when they are disabled (tokens.ts, activeTokenSql); once the row
// is gone there is nothing left to read, so deletion revokes them instead. Descendants die at read through
// their ancestors.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'

export type TokenParty = { client: string } | { user: string } | { resource: string }

/** Revokes the tokens a client holds or acts in, a user is the subject of, or a resource is the audience of. */
export async function revokeTokensOf(db: Kysely<DB>, party: TokenParty, now: Date): Promise<number> {
  const which =
    'client' in party
      ? sql`${party.client} = any(parties || client_id)`
      : 'user' in party
        ? sql`subject_issuer is null and sub = ${party.user}`
        : sql`${party.resource} = any(aud)`
  const result = await sql`update issued_tokens set revoked_at = ${now}
    where revoked_at is null and expires_at > ${now} and ${which}`.execute(db)
  return Number(result.numAffectedRows ?? 0n)
}
