// A user as the document `mandate apply` reads (admin API GET, the web page), never with their password
// hash: a document without passwordHash keeps the stored password (plan-apply.ts).
import { API_VERSION, metadataOf } from '../documents/envelope.ts'
import type { UserRow } from './store.ts'

export const userDocument = (row: UserRow) => ({
  apiVersion: API_VERSION,
  kind: 'User' as const,
  metadata: metadataOf(row.username, null, null),
  spec: {
    ...(row.email === null ? {} : { email: row.email }),
    ...(row.display_name === null ? {} : { displayName: row.display_name }),
    // The document's own flag; `disable` (CLI or admin API) is state beside it.
    disabled: row.disabled_by_document,
    // The admin console's role (docs/admin-console.md): kept through a GET, edit and PUT, or an export.
    ...(row.roles.length === 0 ? {} : { roles: row.roles }),
  },
})

/** A user as lists show them (admin API, `mandate user list`): never the password, only whether there is one. */
export const userSummary = (row: UserRow) => ({
  username: row.username,
  email: row.email,
  display_name: row.display_name,
  source: row.source,
  disabled: row.disabled_at !== null,
  password: row.password_hash !== null,
  roles: row.roles,
})
