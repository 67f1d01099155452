// `mandate user disable|enable`: the user's state and its audit event in one transaction.
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { toEpoch } from '../lib/clock.ts'
import { setUserDisabled, UnknownUser } from './store.ts'

/**
 * Disables the user now: they cannot sign in, every token whose subject they are is inactive at once (on every
 * process: activeTokenSql reads the row), and their sessions, grants, codes and refresh tokens are deleted.
 * Whether it changed anything (false: already disabled). Throws UnknownUser.
 */
export const disableUser = async (
  db: Kysely<DB>,
  username: string,
  now: Date,
  actor: string,
  why: Record<string, unknown> = {},
): Promise<boolean> => (await switchUser(db, username, true, now, actor, why)).changed

/**
 * Undoes `disableUser` (a user their document disables stays disabled: `disabled` says so); tokens issued
 * before stay inactive. Throws UnknownUser.
 */
export const enableUser = (
  db: Kysely<DB>,
  username: string,
  now: Date,
  actor: string,
  why: Record<string, unknown> = {},
): Promise<{ changed: boolean; disabled: boolean }> => switchUser(db, username, false, now, actor, why)

/** `why`: more for the audit event's data (the admin API's reason and source). */
async function switchUser(
  db: Kysely<DB>,
  username: string,
  disabled: boolean,
  now: Date,
  actor: string,
  why: Record<string, unknown>,
) {
  const run = async (trx: Kysely<DB>) => {
    const state = await setUserDisabled(trx, username, { cli: disabled }, now)
    if (!state) throw new UnknownUser(username)
    const changed = state.wasDisabled !== state.isDisabled
    if (changed) {
      await writeAudit(trx, {
        type: disabled ? 'user.disabled' : 'user.enabled',
        at: toEpoch(now),
        actor,
        requestId: null,
        subject: username,
        data: { username, ...why },
      })
    }
    return { changed, disabled: state.isDisabled }
  }
  return db.isTransaction ? run(db) : db.transaction().execute(run)
}
