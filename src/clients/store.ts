// clients rows: written by `mandate apply` (and disabled or enabled by `mandate client`). Requests read
// them from the catalog (src/catalog/), whose generation every change moves by trigger: a changed,
// disabled or removed client takes effect on every process at once.
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

/** Columns of the client's own state, never written from a document (timestamps, disabling). */
type StateColumn =
  | 'created_at'
  | 'updated_at'
  | 'disabled_by_document'
  | 'disabled_by_cli'
  | 'disabled_at'
  | 'tokens_not_before'

/** A clients row as a document (or the bootstrap) writes it, with labels and jwks as values. */
export type ClientWrite = Omit<
  ClientRow,
  | StateColumn
  | 'labels'
  | 'jwks'
  | 'dpop_bound_access_tokens'
  | 'approval_webhook'
  | 'agent'
  | 'post_logout_redirect_uris'
> &
  Partial<Pick<ClientRow, 'dpop_bound_access_tokens' | 'approval_webhook' | 'agent' | 'post_logout_redirect_uris'>> & {
    labels: Record<string, string>
    jwks: unknown
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
    .values({ ...values, created_at: now })
    .onConflict((oc) => oc.column('client_id').doUpdateSet(values))
    .execute()
  if (disabled !== undefined) await setDisabledBy(db, row.client_id, { document: disabled })
}

/** Whether a client is disabled, and by what; undefined for an unknown client. */
export interface DisabledState {
  disabled: boolean
  byDocument: boolean
  byCli: boolean
}

/**
 * Sets what disables the client — its document (spec.disabled) and the CLI (`mandate client
 * disable|enable`), each kept on its own, so neither undoes the other — and derives its state in one
 * statement: disabled while either says so. Whenever the state changes (either way), tokens_not_before
 * moves to now, on the database clock: no token of a disabled client is active, and enabling it again
 * never revives one, not even one an exchange in flight wrote while it was disabled.
 */
export async function setDisabledBy(
  db: Kysely<DB>,
  clientId: string,
  by: { document?: boolean; cli?: boolean },
): Promise<{ before: DisabledState; after: DisabledState } | undefined> {
  const document = by.document ?? null
  const cli = by.cli ?? null
  const result = await sql<{
    was: boolean
    was_document: boolean
    was_cli: boolean
    is_document: boolean
    is_cli: boolean
  }>`
    with old as (
      select client_id, disabled_at is not null as was, disabled_by_document as was_document, disabled_by_cli as was_cli
      from clients where client_id = ${clientId} for update
    )
    update clients c set
      disabled_by_document = coalesce(${document}::boolean, c.disabled_by_document),
      disabled_by_cli = coalesce(${cli}::boolean, c.disabled_by_cli),
      disabled_at = case
        when coalesce(${document}::boolean, c.disabled_by_document) or coalesce(${cli}::boolean, c.disabled_by_cli)
        then coalesce(c.disabled_at, now()) end,
      tokens_not_before = case
        when (coalesce(${document}::boolean, c.disabled_by_document) or coalesce(${cli}::boolean, c.disabled_by_cli))
          <> (c.disabled_at is not null)
        then now() else c.tokens_not_before end
    from old where c.client_id = old.client_id
    returning old.was, old.was_document, old.was_cli, c.disabled_by_document as is_document, c.disabled_by_cli as is_cli`.execute(
    db,
  )
  const row = result.rows[0]
  if (!row) return undefined
  return {
    before: { disabled: row.was, byDocument: row.was_document, byCli: row.was_cli },
    after: { disabled: row.is_document || row.is_cli, byDocument: row.is_document, byCli: row.is_cli },
  }
}
