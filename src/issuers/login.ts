// An issuer that signs people in (its `login` member, docs/upstream-sign-in.md): the row with its login
// read as the document wrote it.
import { IssuerLogin } from './schema.ts'
import type { IssuerRow } from './store.ts'

/** An issuers row whose document has `login`: Mandate signs people in at that OpenID provider. */
export type LoginIssuer = Omit<IssuerRow, 'login'> & { readonly login: IssuerLogin }

/** The row as a LoginIssuer, or undefined when it signs nobody in. */
export function loginIssuerOf(row: IssuerRow): LoginIssuer | undefined {
  if (row.login === null || row.login === undefined) return undefined
  // Written by apply through the same schema: a row that does not parse is a bug, not a refusal.
  return { ...row, login: IssuerLogin.parse(row.login) }
}
