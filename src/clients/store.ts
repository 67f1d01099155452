// clients rows: written by `mandate apply`, read on every authenticated request (never cached, so
// a changed or removed client takes effect on every process at once).
import { type Kysely, type Selectable, sql } from 'kysely'
import type { ClientsTable, DB } from '../db/schema.ts'

export type ClientRow = Selectable<ClientsTable>

export function findClient(db: Kysely<DB>, clientId: string): Promise<ClientRow | undefined> {
  return db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst()
}

export async function listClientIds(db: Kysely<DB>): Promise<Set<string>> {
  const rows = await db.selectFrom('clients').select('client_id').execute()
  return new Set(rows.map((row) => row.client_id))
}

/** client_ids holding the given scope (for example mandate:admin). */
export async function listClientIdsWithScope(db: Kysely<DB>, scope: string): Promise<Set<string>> {
  const rows = await db.selectFrom('clients').select('client_id').where(sql<boolean>`${scope} = any(scopes)`).execute()
  return new Set(rows.map((row) => row.client_id))
}

export interface ClientWrite {
  client_id: string
  description: string | null
  labels: Record<string, string>
  profile: string
  secret_hash: string | null
  jwks: unknown
  grant_types: string[]
  redirect_uris: string[]
  scopes: string[]
  content_hash: string
}

export async function upsertClient(db: Kysely<DB>, row: ClientWrite, now: Date): Promise<void> {
  const values = {
    ...row,
    labels: JSON.stringify(row.labels),
    jwks: row.jwks === null ? null : JSON.stringify(row.jwks),
    updated_at: now,
  }
  await db
    .insertInto('clients')
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('client_id').doUpdateSet(values))
    .execute()
}
