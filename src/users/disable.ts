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
export const disableUser = (db: Kysely<DB>, username: string, now: Date, actor: string): Promise<boolean> =>
  switchUser(db, username, true, now, actor)

/** Enables the user again; tokens issued before stay inactive. Whether it changed anything. Throws UnknownUser. */
export const enableUser = (db: Kysely<DB>, username: string, now: Date, actor: string): Promise<boolean> =>
  switchUser(db, username, false, now, actor)

async function switchUser(db: Kysely<DB>, username: string, disabled: boolean, now: Date, actor: string) {
  const run = async (trx: Kysely<DB>) => {
    const before = await setUserDisabled(trx, username, disabled, now)
    if (!before) throw new UnknownUser(username)
    const changed = before.wasDisabled !== disabled
    if (changed) {
      await writeAudit(trx, {
        type: disabled ? 'user.disabled' : 'user.enabled',
        at: toEpoch(now),
        actor,
        requestId: null,
        subject: username,
        data: { username },
      })
    }
    return changed
  }
  return db.isTransaction ? run(db) : db.transaction().execute(run)
}
