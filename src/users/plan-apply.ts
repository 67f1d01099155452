// Plans `kind: User`: created, updated, or unchanged when its content hash matches. A document without
// passwordHash keeps the password set with `mandate user set-password`; spec.disabled disables or enables
// the user with the effects of `mandate user disable|enable` (store.ts, setUserDisabled).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, unchanged } from '../documents/plan.ts'
import { ADMIN_ROLE, type UserDocument } from './schema.ts'
import { findUser, setUserDisabled, upsertUser } from './store.ts'

export async function planUser(db: Kysely<DB>, doc: UserDocument): Promise<Planned> {
  const { metadata, spec } = doc
  const existing = await findUser(db, metadata.name)
  // The password hash is part of the content: a changed one is an update. It is a salted hash, never a secret.
  const hash = contentHash(doc)
  // Only a changed document is written: re-applying one (serve --apply at every start) never undoes
  // `mandate user disable` or `set-password`.
  if (existing?.content_hash === hash) return unchanged('User', metadata.name, hash)
  return {
    kind: 'User',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    async write(target, now) {
      await upsertUser(
        target,
        {
          username: metadata.name,
          email: spec.email ?? null,
          display_name: spec.displayName ?? null,
          password_hash: spec.passwordHash,
          roles: [...new Set(spec.roles ?? [])],
          content_hash: hash,
        },
        now,
      )
      await setUserDisabled(target, metadata.name, { document: spec.disabled }, now)
      // Without the role their console sessions end now: given back later, it revives none of them.
      if (!spec.roles?.includes(ADMIN_ROLE))
        await target.deleteFrom('admin_console_sessions').where('username', '=', metadata.name).execute()
      return { written: true }
    },
  }
}
