// Password sign-in: the one check of a username and password. Every attempt runs exactly one hash
// verification, against a dummy hash when there is no usable one, and answers the same refusal whatever
// went wrong, so neither the answer nor its timing says whether the user exists (OWASP Authentication
// Cheat Sheet, "Authentication Responses").
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { dummyHash, verifyPassword } from './password.ts'
import { Username } from './schema.ts'
import { findUser, type UserRow } from './store.ts'

export type PasswordCheck = { ok: true; user: UserRow } | { ok: false }

/** Usernames are stored lowercase: "Alice " signs in as alice. */
export const normalizeUsername = (username: string): string => username.trim().toLowerCase()

export async function authenticatePassword(db: Kysely<DB>, username: string, password: string): Promise<PasswordCheck> {
  const name = normalizeUsername(username)
  const user = Username.safeParse(name).success ? await findUser(db, name) : undefined
  const usable = user && user.disabled_at === null && user.password_hash !== null ? user : undefined
  const matches = await verifyPassword(password, usable?.password_hash ?? (await dummyHash()))
  return matches && usable ? { ok: true, user: usable } : { ok: false }
}
