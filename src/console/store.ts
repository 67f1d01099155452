// admin_console_sessions rows: the console's sign-ins in flight and its sessions. A row is found by the
// SHA-256 of its cookie value, so the database never holds a cookie a reader could present.
import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'

/** A new cookie value (256 random bits) and the key its row is stored under. */
export function newCookieValue(): { value: string; idHash: string } {
  const value = randomBytes(32).toString('base64url')
  return { value, idHash: hashOf(value) }
}

export const hashOf = (value: string): string => createHash('sha256').update(value).digest('base64url')

export interface PendingSignIn {
  state: string
  code_verifier: string
  nonce: string
}

export async function saveSignIn(db: Kysely<DB>, idHash: string, pending: PendingSignIn, expiresAt: Date) {
  await db
    .insertInto('admin_console_sessions')
    .values({ id_hash: idHash, ...pending, expires_at: expiresAt })
    .execute()
}

/** The sign-in in flight under this cookie, spent: it is answered once. */
export async function takeSignIn(db: Kysely<DB>, idHash: string, now: Date): Promise<PendingSignIn | undefined> {
  const row = await db
    .deleteFrom('admin_console_sessions')
    .where('id_hash', '=', idHash)
    .where('username', 'is', null)
    .returning(['state', 'code_verifier', 'nonce', 'expires_at'])
    .executeTakeFirst()
  if (!row || row.expires_at <= now || !row.state || !row.code_verifier || !row.nonce) return undefined
  return { state: row.state, code_verifier: row.code_verifier, nonce: row.nonce }
}

export async function createSession(db: Kysely<DB>, idHash: string, username: string, expiresAt: Date) {
  await db.insertInto('admin_console_sessions').values({ id_hash: idHash, username, expires_at: expiresAt }).execute()
}

export interface SessionUser {
  username: string
  roles: string[]
  disabled: boolean
}

/** The person of an unexpired session, with their roles and state as they are now. */
export async function findSession(db: Kysely<DB>, idHash: string, now: Date): Promise<SessionUser | undefined> {
  const row = await db
    .selectFrom('admin_console_sessions as s')
    .innerJoin('users as u', 'u.username', 's.username')
    .select(['u.username', 'u.roles', 'u.disabled_at'])
    .where('s.id_hash', '=', idHash)
    .where('s.expires_at', '>', now)
    .executeTakeFirst()
  return row && { username: row.username, roles: row.roles, disabled: row.disabled_at !== null }
}

/** A person's roles and state as they are now (at sign-in, before any session exists). */
export async function findPerson(db: Kysely<DB>, username: string): Promise<SessionUser | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['username', 'roles', 'disabled_at'])
    .where('username', '=', username)
    .executeTakeFirst()
  return row && { username: row.username, roles: row.roles, disabled: row.disabled_at !== null }
}

export async function endSession(db: Kysely<DB>, idHash: string): Promise<void> {
  await db.deleteFrom('admin_console_sessions').where('id_hash', '=', idHash).execute()
}

/** Rows past their end; removed when someone starts a sign-in, so the table stays small without a job. */
export async function pruneExpired(db: Kysely<DB>, now: Date): Promise<void> {
  await db.deleteFrom('admin_console_sessions').where('expires_at', '<=', now).execute()
}
