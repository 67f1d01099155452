// The one replay store (client assertion jtis, RFC 7523 §3; DPoP proof jtis, RFC 9449 §11.1): a value
// is claimed with one atomic statement, so concurrent requests on any number of processes cannot
// both succeed. An expired claim may be claimed again (its row is reused; the janitor prunes the rest).
import { createHash } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'

/** oidc-provider's ReplayDetection key for (iss, jti), so both stores are one. */
const replayKey = (iss: string, jti: string): string => createHash('sha256').update(`${iss}${jti}`).digest('base64url')

/** The rows that claim `jti` for each issuer namespace (one per namespace). */
export const replayClaimRows = (issuers: readonly string[], jti: string) =>
  [...new Set(issuers)].map((iss) => {
    const id = replayKey(iss, jti)
    return { id, payload: { jti: id, iss, kind: 'ReplayDetection' } }
  })

/**
 * True when this call claimed `jti` for every issuer namespace given, until `expiresAt` (one statement,
 * one round trip); false when any of them already holds it.
 */
export async function claimOnce(
  db: Kysely<DB>,
  issuers: readonly string[],
  jti: string,
  expiresAt: Date,
  now: Date,
): Promise<boolean> {
  const rows = replayClaimRows(issuers, jti).map(
    ({ id, payload }) => sql`('ReplayDetection', ${id}, ${JSON.stringify(payload)}::jsonb, ${expiresAt})`,
  )
  const result = await sql`
    insert into oidc_payloads (model, id, payload, expires_at)
    values ${sql.join(rows)}
    on conflict (model, id) do update set payload = excluded.payload, expires_at = excluded.expires_at, consumed_at = null
      where oidc_payloads.expires_at <= ${now}`.execute(db)
  return Number(result.numAffectedRows ?? 0n) === rows.length
}
