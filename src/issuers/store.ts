// issuers rows: trusted foreign issuers (requests look them up by `iss` in the catalog, src/catalog/).
import type { Kysely, Selectable } from 'kysely'
import type { DB, IssuersTable } from '../db/schema.ts'
import type { IssuerLogin } from './schema.ts'

export type IssuerRow = Selectable<IssuersTable>

export const findIssuerByName = (db: Kysely<DB>, name: string): Promise<IssuerRow | undefined> =>
  db.selectFrom('issuers').selectAll().where('name', '=', name).executeTakeFirst()

/** An issuers row as a document writes it (timestamps are the store's), with labels, jwks and login as values. */
export type IssuerWrite = Omit<IssuerRow, 'created_at' | 'updated_at' | 'labels' | 'jwks' | 'login'> & {
  labels: Record<string, string>
  jwks: unknown
  /** Absent or null: the issuer signs nobody in. */
  login?: IssuerLogin | null
}

export async function upsertIssuer(db: Kysely<DB>, row: IssuerWrite, now: Date): Promise<void> {
  const values = {
    ...row,
    jwks: row.jwks === null ? null : JSON.stringify(row.jwks),
    login: row.login ? JSON.stringify(row.login) : null,
    labels: JSON.stringify(row.labels),
    updated_at: now,
  }
  await db
    .insertInto('issuers')
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet(values))
    .execute()
}
