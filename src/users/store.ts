// users rows: written by `mandate apply` (kind: User) and by `mandate user …`. Read at sign-in, and by the
// activity rule of every token whose subject is a user (lineage/tokens.ts, activeTokenSql).
import { type Kysely, type Selectable, sql } from 'kysely'
import type { DB, UsersTable } from '../db/schema.ts'

export type UserRow = Selectable<UsersTable>

/** A command named a user that does not exist. */
export class UnknownUser extends Error {
  readonly username: string
  constructor(username: string) {
    super(`user ${username} not found`)
    this.username = username
  }
}

export async function findUser(db: Kysely<DB>, username: string): Promise<UserRow | undefined> {
  // Postgres text cannot hold NUL: such a value names nobody, never a 500.
  if (username.includes('\u0000')) return undefined
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst()
}

export const listUsers = (db: Kysely<DB>): Promise<UserRow[]> =>
  db.selectFrom('users').selectAll().orderBy('username').execute()

/** Which of these names are stored users. */
export async function existingUsernames(db: Kysely<DB>, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set()
  const rows = await db.selectFrom('users').select('username').where('username', 'in', names).execute()
  return new Set(rows.map((row) => row.username))
}

/** What a document writes. password_hash undefined keeps the stored one (set by the CLI, or by an older document). */
export interface UserWrite {
  username: string
  email: string | null
  display_name: string | null
  password_hash: string | undefined
  /** Absent (an upstream user's first sign-in): none on a new user, the stored ones kept on an update. */
  roles?: string[]
  content_hash: string
}

/** Creates or updates a user from a document (source 'document', also for one first created upstream). */
export async function upsertUser(db: Kysely<DB>, row: UserWrite, now: Date): Promise<void> {
  const { password_hash, ...columns } = row
  const values = {
    ...columns,
    ...(password_hash === undefined ? {} : { password_hash }),
    source: 'document' as const,
    updated_at: now,
  }
  await db
    .insertInto('users')
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('username').doUpdateSet(values))
    .execute()
}

/** Replaces the user's password hash (a PHC string, never a password). Throws UnknownUser. */
export async function setPassword(db: Kysely<DB>, username: string, hash: string, now: Date): Promise<void> {
  const result = await db
    .updateTable('users')
    .set({ password_hash: hash, updated_at: now })
    .where('username', '=', username)
    .executeTakeFirst()
  if (result.numUpdatedRows === 0n) throw new UnknownUser(username)
}

// The oidc-provider artefacts that stand for a signed-in person (docs/users.md): their sessions, grants, codes
// and refresh tokens carry accountId; an interaction carries it in its session or its login result.
const ACCOUNT_MODELS = [
  'Session',
  'Grant',
  'AuthorizationCode',
  'RefreshToken',
  'AccessToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]

/**
 * Sets what disables the user — their document (spec.disabled) and the CLI (`mandate user disable|enable`),
 * each kept on its own, so neither undoes the other (as for clients) — and derives their state in one
 * statement: disabled while either says so. Undefined for an unknown user, else whether they were
 * disabled before and are now. Disabling moves tokens_not_before to now and enabling keeps it: no token
 * issued up to the disable is ever active again (activeTokenSql compares it with issued_at). Disabling also
 * deletes every oidc-provider artefact of the user and their admin console sessions, so no session, code or
 * refresh token outlives it.
 */
export async function setUserDisabled(
  db: Kysely<DB>,
  username: string,
  by: { document?: boolean; cli?: boolean },
  now: Date,
): Promise<{ wasDisabled: boolean; isDisabled: boolean } | undefined> {
  const document = by.document ?? null
  const cli = by.cli ?? null
  const { rows } = await sql<{ was: boolean; is: boolean }>`
    with old as (select username, disabled_at is not null as was from users where username = ${username} for update),
    next as (
      select u.username, coalesce(${document}::boolean, u.disabled_by_document) as by_document,
        coalesce(${cli}::boolean, u.disabled_by_cli) as by_cli
      from users u join old using (username))
    update users u set
      disabled_by_document = next.by_document,
      disabled_by_cli = next.by_cli,
      disabled_at = case when next.by_document or next.by_cli then coalesce(u.disabled_at, ${now}) end,
      tokens_not_before = case when (next.by_document or next.by_cli) and not old.was then ${now} else u.tokens_not_before end,
      updated_at = case when (next.by_document or next.by_cli) <> old.was then ${now} else u.updated_at end
    from old, next where u.username = old.username and next.username = old.username
    returning old.was, (next.by_document or next.by_cli) as is`.execute(db)
  const row = rows[0]
  if (!row) return undefined
  if (row.is) await deleteArtefacts(db, username)
  return { wasDisabled: row.was, isDisabled: row.is }
}

async function deleteArtefacts(db: Kysely<DB>, username: string): Promise<void> {
  await sql`delete from oidc_payloads p where
    (p.model = any(${ACCOUNT_MODELS}::text[]) and p.payload->>'accountId' = ${username})
    or (p.model = 'Interaction' and (p.payload->'session'->>'accountId' = ${username}
      or p.payload->'result'->'login'->>'accountId' = ${username}))
    or p.grant_id in (select g.id from oidc_payloads g where g.model = 'Grant' and g.payload->>'accountId' = ${username})`.execute(
    db,
  )
  // Their admin console sessions too: each request refuses a disabled person, but one that made no request
  // while disabled would otherwise find its session alive again once enabled.
  await db.deleteFrom('admin_console_sessions').where('username', '=', username).execute()
}
