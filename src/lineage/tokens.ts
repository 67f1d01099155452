// Token lineage: one row per issued access token, written before the token leaves the server.
// Rows are never cascaded; activity is decided when a token is read (see findActiveToken).
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely'
import type { DB, IssuedTokensTable } from '../db/schema.ts'

export type IssuedToken = Selectable<IssuedTokensTable>

export interface IssuedTokenWrite {
  jti: string
  kid: string
  grant_type: string
  client_id: string
  sub: string
  aud: string[]
  scope: string[]
  issued_at: Date
  expires_at: Date
  parent_jti: string | null
  ancestors: string[]
  claims: Record<string, unknown>
  subject_issuer?: string | null
  subject_ref?: string | null
  act?: unknown
  task_id?: string | null
  policy_path?: string | null
  policy_version?: number | null
  decision_id?: string | null
  task_path?: string[]
  actor_jti?: string | null
  /** Besides ancestors, every jti whose revocation ends this token (actor tokens and their chains). */
  depends_on?: string[]
}

export async function recordIssuedToken(db: Kysely<DB>, row: IssuedTokenWrite): Promise<void> {
  await db
    .insertInto('issued_tokens')
    .values({
      ...row,
      depends_on: row.depends_on ?? [],
      claims: JSON.stringify(row.claims),
      act: row.act === undefined || row.act === null ? null : JSON.stringify(row.act),
    })
    .execute()
}

/**
 * The token, if it is active at `now`: unexpired, not revoked, no ancestor (nor the actor token it was
 * minted with) revoked, and every task
 * it depends on neither completed nor expired. One indexed query, so a revocation or a task
 * completion committed anywhere is seen by the very next read on every process.
 */
export function findActiveToken(db: Kysely<DB>, jti: string, now: Date): Promise<IssuedToken | undefined> {
  return db
    .selectFrom('issued_tokens as t')
    .selectAll('t')
    .where('t.jti', '=', jti)
    .where('t.expires_at', '>', now)
    .where('t.revoked_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('issued_tokens as a')
            .select('a.jti')
            .where((eb) => eb('a.jti', '=', eb.fn.any(sql<string[]>`t.ancestors || t.depends_on`)))
            .where('a.revoked_at', 'is not', null),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('tasks as k')
            .select('k.task_id')
            .where((eb) => eb('k.task_id', '=', eb.fn.any('t.task_path')))
            .where((eb) => eb.or([eb('k.completed_at', 'is not', null), eb('k.expires_at', '<=', now)])),
        ),
      ),
    )
    .executeTakeFirst()
}

/** Marks a token revoked (idempotent: the first revocation time is kept). Its descendants die at read. */
export async function revokeToken(db: Kysely<DB>, jti: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('issued_tokens')
    .set({ revoked_at: now })
    .where('jti', '=', jti)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** The activity rule of findActiveToken as a SQL condition on `issued_tokens t`, for set queries. */
export function activeTokenSql(now: Date): RawBuilder<boolean> {
  return sql<boolean>`(t.revoked_at is null and t.expires_at > ${now}
    and not exists (select 1 from issued_tokens a where a.jti = any(t.ancestors || t.depends_on) and a.revoked_at is not null)
    and not exists (select 1 from tasks k where k.task_id = any(t.task_path) and (k.completed_at is not null or k.expires_at <= ${now})))`
}
