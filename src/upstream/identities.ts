// From a validated upstream identity to a Mandate user, in one transaction: the identity's user when it
// has one (its sign-in time and, for users it created, email and name refreshed), else a new user
// (source 'upstream') with its identity and a `user.created` audit event. Identities are matched by the
// ID token's (iss, sub) only (OIDC Core §5.7), never by email or username, nor by the Issuer document's
// name: a document pointed at another provider meets new identities, never the old provider's people.
import { type Kysely, sql } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import { usernameCandidates } from './username.ts'

export interface UpstreamIdentity {
  /** The Issuer document's name. */
  issuer: string
  /** The ID token's iss. */
  upstream_iss: string
  /** The ID token's claims: sub, and the profile claims a new user takes. */
  claims: { sub: string; email?: unknown; name?: unknown; preferred_username?: unknown }
}

export type IdentitySignIn =
  | { ok: true; username: string; created: boolean }
  | { ok: false; reason: 'user_disabled' | 'username_taken' }

export function signInIdentity(
  db: Kysely<DB>,
  identity: UpstreamIdentity,
  at: { now: number; requestId: string | null },
): Promise<IdentitySignIn> {
  return db.transaction().execute(async (trx) => {
    // Concurrent first sign-ins of one identity wait here for each other: the second finds the first's user.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`upstream ${identity.upstream_iss} ${identity.claims.sub}`}, 0))`.execute(
      trx,
    )
    const existing = await trx
      .selectFrom('user_identities as i')
      .innerJoin('users as u', 'u.username', 'i.username')
      .select(['u.username', 'u.disabled_at', 'u.source', 'u.email', 'u.display_name'])
      .where('i.upstream_iss', '=', identity.upstream_iss)
      .where('i.upstream_sub', '=', identity.claims.sub)
      .executeTakeFirst()
    if (existing) {
      if (existing.disabled_at !== null) return { ok: false, reason: 'user_disabled' }
      await signedInAgain(trx, identity, existing, toDate(at.now))
      return { ok: true, username: existing.username, created: false }
    }
    const username = await createUser(trx, identity, toDate(at.now))
    if (username === undefined) return { ok: false, reason: 'username_taken' }
    await writeAudit(trx, {
      type: 'user.created',
      at: at.now,
      actor: `upstream:${identity.issuer}`,
      requestId: at.requestId,
      subject: username,
      data: {
        username,
        source: 'upstream',
        issuer: identity.issuer,
        upstream_iss: identity.upstream_iss,
        upstream_sub: identity.claims.sub,
      },
    })
    return { ok: true, username, created: true }
  })
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null)

/** The sign-in time; and a user of upstream origin takes the provider's email and name (a User document's stay). */
async function signedInAgain(
  trx: Kysely<DB>,
  identity: UpstreamIdentity,
  user: { username: string; source: string; email: string | null; display_name: string | null },
  now: Date,
): Promise<void> {
  await trx
    .updateTable('user_identities')
    .set({ last_sign_in_at: now, issuer: identity.issuer })
    .where('upstream_iss', '=', identity.upstream_iss)
    .where('upstream_sub', '=', identity.claims.sub)
    .execute()
  if (user.source !== 'upstream') return
  const email = text(identity.claims.email) ?? user.email
  const display_name = text(identity.claims.name) ?? user.display_name
  if (email === user.email && display_name === user.display_name) return
  await trx
    .updateTable('users')
    .set({ email, display_name, updated_at: now })
    .where('username', '=', user.username)
    .execute()
}

/**
 * The user of a first sign-in, under the first candidate name that is neither a client_id nor taken by a
 * user (ON CONFLICT: a user another transaction creates meanwhile moves us to the next); undefined when none is free.
 */
async function createUser(trx: Kysely<DB>, identity: UpstreamIdentity, now: Date): Promise<string | undefined> {
  for (const candidate of usernameCandidates(identity.issuer, identity.claims)) {
    const client = await trx
      .selectFrom('clients')
      .select('client_id')
      .where('client_id', '=', candidate)
      .executeTakeFirst()
    if (client) continue
    const inserted = await trx
      .insertInto('users')
      .values({
        username: candidate,
        email: text(identity.claims.email),
        display_name: text(identity.claims.name),
        source: 'upstream',
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .returning('username')
      .executeTakeFirst()
    if (!inserted) continue
    await trx
      .insertInto('user_identities')
      .values({
        issuer: identity.issuer,
        upstream_sub: identity.claims.sub,
        username: candidate,
        upstream_iss: identity.upstream_iss,
        created_at: now,
        last_sign_in_at: now,
      })
      .execute()
    return candidate
  }
  return undefined
}
