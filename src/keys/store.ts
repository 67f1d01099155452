// signing_keys rows. A key's state is derived from timestamps (see ring.ts), so rotation needs no
// job: every process reading the same rows and clock agrees on which key signs.
import { generateKeyPairSync } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { type Kysely, type Selectable, sql } from 'kysely'
import type { DB, SigningKeysTable } from '../db/schema.ts'
import { seal } from './envelope.ts'

export type SigningKeyRow = Selectable<SigningKeysTable>

export const SIGNING_ALG = 'ES256'
/** NOTIFY channel telling every process to re-read signing keys. */
export const KEYS_CHANNEL = 'mandate_keys'

export function listSigningKeys(db: Kysely<DB>): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('activates_at').orderBy('created_at').execute()
}

/** Latest expiry among tokens each key signed: a retired key stays published until then. */
export async function lastExpiryByKid(db: Kysely<DB>, kids: readonly string[]): Promise<Map<string, Date>> {
  // One index probe per key ((kid, expires_at) backwards) instead of an aggregate over every token.
  const rows = await Promise.all(
    kids.map((kid) =>
      db
        .selectFrom('issued_tokens')
        .select(['kid', 'expires_at'])
        .where('kid', '=', kid)
        .orderBy('expires_at', 'desc')
        .limit(1)
        .executeTakeFirst(),
    ),
  )
  return new Map(rows.filter((row) => row !== undefined).map((row) => [row.kid, new Date(row.expires_at)]))
}

export async function createSigningKey(
  db: Kysely<DB>,
  masterKeys: readonly Buffer[],
  activatesAt: Date,
): Promise<{ kid: string; activatesAt: Date }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const privateJwk = privateKey.export({ format: 'jwk' }) as JWK
  const { d: _d, ...publicJwk } = privateJwk
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  const jwk = { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' }
  await db
    .insertInto('signing_keys')
    .values({
      kid,
      alg: SIGNING_ALG,
      public_jwk: JSON.stringify(jwk),
      private_jwk_sealed: seal(JSON.stringify({ ...privateJwk, kid, alg: SIGNING_ALG }), masterKeys, kid),
      activates_at: activatesAt,
    })
    .execute()
  await sql`select pg_notify(${KEYS_CHANNEL}, ${kid})`.execute(db)
  return { kid, activatesAt }
}

/** Creates the first key (active at once) when there is none; safe when processes start together. */
export async function ensureSigningKey(db: Kysely<DB>, masterKeys: readonly Buffer[], now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('mandate.signing_keys'))`.execute(trx)
    const existing = await trx.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst()
    if (!existing) await createSigningKey(trx, masterKeys, now)
  })
}
