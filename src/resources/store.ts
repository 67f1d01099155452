// resources rows: the resource servers tokens may be issued for, keyed by name and by indicator.
import type { Kysely, Selectable } from 'kysely'
import type { DB, ResourcesTable } from '../db/schema.ts'

export type ResourceRow = Selectable<ResourcesTable>

export function findResourceByUri(db: Kysely<DB>, uri: string): Promise<ResourceRow | undefined> {
  return db.selectFrom('resources').selectAll().where('uri', '=', uri).executeTakeFirst()
}

export function findResourceByName(db: Kysely<DB>, name: string): Promise<ResourceRow | undefined> {
  return db.selectFrom('resources').selectAll().where('name', '=', name).executeTakeFirst()
}

export interface ResourceWrite {
  name: string
  uri: string
  description: string | null
  labels: Record<string, string>
  scopes: string[]
  introspectors: string[]
  access_token_lifetime: number
  content_hash: string
  revocation_webhook?: string | null
}

export async function upsertResource(db: Kysely<DB>, row: ResourceWrite, now: Date): Promise<void> {
  const values = { ...row, labels: JSON.stringify(row.labels), updated_at: now }
  await db
    .insertInto('resources')
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet(values))
    .execute()
}
