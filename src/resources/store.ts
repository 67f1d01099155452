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

/** A resources row as a document writes it (timestamps are the store's), with labels as a value. */
export type ResourceWrite = Omit<
  ResourceRow,
  'created_at' | 'updated_at' | 'labels' | 'revocation_webhook' | 'scope_descriptions'
> &
  Partial<Pick<ResourceRow, 'revocation_webhook'>> & {
    labels: Record<string, string>
    scope_descriptions?: Record<string, string>
  }

export async function upsertResource(db: Kysely<DB>, row: ResourceWrite, now: Date): Promise<void> {
  const values = {
    ...row,
    labels: JSON.stringify(row.labels),
    scope_descriptions: JSON.stringify(row.scope_descriptions ?? {}),
    updated_at: now,
  }
  await db
    .insertInto('resources')
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet(values))
    .execute()
}
