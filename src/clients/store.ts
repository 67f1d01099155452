// clients rows: written by `mandate apply` (and disabled or enabled by `mandate client`), read on every
// authenticated request (never cached, so a changed, disabled or removed client takes effect on every
// process at once).
import { type Kysely, type Selectable, sql } from 'kysely'
import type { ClientsTable, DB } from '../db/schema.ts'

export type ClientRow = Selectable<ClientsTable>

export async function findClient(db: Kysely<DB>, clientId: string): Promise<ClientRow | undefined> {
  // No client_id holds NUL (Postgres text cannot): such a value names nothing, never a 500.
  if (clientId.includes('\u0000')) return undefined
  return db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst()
}

/** The client, unless it is unknown or disabled: the only lookup that may authenticate a client. */
export async function findEnabledClient(db: Kysely<DB>, clientId: string): Promise<ClientRow | undefined> {
  const row = await findClient(db, clientId)
  return row && row.disabled_at === null ? row : undefined
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
  dpop_bound_access_tokens?: boolean
  /** The document's spec.disabled; undefined leaves the client's state as it is (bootstrap). */
  disabled?: boolean
}

export async function upsertClient(db: Kysely<DB>, row: ClientWrite, now: Date): Promise<void> {
  const { disabled, ...columns } = row
  const values = {
    ...columns,
    labels: JSON.stringify(row.labels),
    jwks: row.jwks === null ? null : JSON.stringify(row.jwks),
    updated_at: now,
  }
  await db
    .insertInto('clients')
    .values({
      ...values,
      created_at: now,
      ...(disabled ? { disabled_at: now, disabled_by: 'document', tokens_not_before: now } : {}),
    })
    .onConflict((oc) => oc.column('client_id').doUpdateSet(values))
    .execute()
  if (disabled === undefined) return
  // A document disables (or re-enables what a document disabled); a CLI disable outlives documents.
  if (disabled) await setDisabled(db, row.client_id, 'document', now)
  else await setEnabled(db, row.client_id, 'document')
}

/**
 * Disables the client (a no-op when it already is): it can no longer authenticate, and every token
 * naming it among its parties and issued until now stays inactive, even once it is enabled again.
 */
export async function setDisabled(
  db: Kysely<DB>,
  clientId: string,
  by: 'document' | 'cli',
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('clients')
    .set({ disabled_at: now, disabled_by: by, tokens_not_before: now })
    .where('client_id', '=', clientId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Enables the client again; `document` cannot undo a CLI disable (only `mandate client enable` can). */
export async function setEnabled(db: Kysely<DB>, clientId: string, by: 'document' | 'cli'): Promise<boolean> {
  let query = db
    .updateTable('clients')
    .set({ disabled_at: null, disabled_by: null })
    .where('client_id', '=', clientId)
    .where('disabled_at', 'is not', null)
  if (by === 'document') query = query.where('disabled_by', '=', 'document')
  const result = await query.executeTakeFirst()
  return result.numUpdatedRows > 0n
}
