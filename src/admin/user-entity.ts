// Users on the admin API: never a password hash, either way (passwords are the CLI's); deleting one ends
// their sessions, grants and tokens first.
import { contentHash } from '../lib/canonical-json.ts'
import { revokeTokensOf } from '../lineage/revoke-of.ts'
import { userDocument, userSummary } from '../users/document.ts'
import { planUser } from '../users/plan-apply.ts'
import { UserDocument } from '../users/schema.ts'
import { findUser, setUserDisabled, type UserRow } from '../users/store.ts'
import { finding, isPlain, type KindRules, type Plain } from './entity-rules.ts'

/** A user first created by upstream sign-in has no stored content hash: the hash of its document then. */
const stamp = (row: { content_hash: string | null }, document: Plain) => row.content_hash ?? contentHash(document)

export const userRules: KindRules<UserRow> = {
  kind: 'User',
  table: 'users',
  key: 'username',
  find: findUser,
  list: (db) => db.selectFrom('users').selectAll().orderBy('username').execute(),
  document: userDocument,
  etag: (row) => stamp(row, userDocument(row)),
  summary: (row) => ({ ...userSummary(row), updated_at: row.updated_at }),
  prepare(doc) {
    const spec = isPlain(doc.spec) ? doc.spec : undefined
    if (spec?.passwordHash === undefined) return { document: doc, findings: [] }
    return {
      document: doc,
      findings: [
        finding(
          'password_not_here',
          'passwords are set with `mandate user set-password` (or a document applied with `mandate apply`), never through the admin API; leave spec.passwordHash out to keep the stored one',
          '/spec/passwordHash',
        ),
      ],
    }
  },
  plan: async (db, doc) => ({ planned: await planUser(db, UserDocument.parse(doc)) }),
  references: async () => [],
  async remove(db, row, now) {
    // As disabling does: their sessions, grants, codes and refresh tokens go; then their tokens, whose
    // activity could no longer read the row.
    await setUserDisabled(db, row.username, { cli: true }, now)
    const revoked = await revokeTokensOf(db, { user: row.username }, now)
    await db.deleteFrom('users').where('username', '=', row.username).execute()
    return { revoked_tokens: revoked }
  },
}
