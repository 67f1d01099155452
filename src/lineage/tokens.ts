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
  /** Every client whose disabling ends this token (its holder, its actors, earlier holders). */
  parties?: string[]
  /** RFC 9449 §6.1 cnf.jkt of a DPoP-bound token. */
  jkt?: string | null
}

export async function recordIssuedToken(db: Kysely<DB>, row: IssuedTokenWrite): Promise<void> {
  await db
    .insertInto('issued_tokens')
    .values({
      ...row,
      depends_on: row.depends_on ?? [],
      parties: row.parties ?? [row.client_id],
      claims: JSON.stringify(row.claims),
      act: row.act === undefined || row.act === null ? null : JSON.stringify(row.act),
    })
    .execute()
}

/**
 * The token, if it is active at `now` (see activeTokenSql). One indexed query, so a revocation, a task
 * completion or a client disabled anywhere is seen by the very next read on every process.
 */
export function findActiveToken(db: Kysely<DB>, jti: string, now: Date): Promise<IssuedToken | undefined> {
  return db
    .selectFrom('issued_tokens as t')
    .selectAll('t')
    .where('t.jti', '=', jti)
    .where(activeTokenSql(now))
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

/**
 * The one activity rule, as a SQL condition on `issued_tokens t`: unexpired, not revoked; no ancestor,
 * nor any token it depends on (actor tokens and their chains), revoked; every task it depends on
 * neither completed nor expired; and no party (holder, actor, earlier holder) disabled, nor disabled
 * since the token was issued. Rows written before `parties` existed keep their holder as a party.
 */
export function activeTokenSql(now: Date): RawBuilder<boolean> {
  return sql<boolean>`(t.revoked_at is null and t.expires_at > ${now}
    and not exists (select 1 from issued_tokens a where a.jti = any(t.ancestors || t.depends_on) and a.revoked_at is not null)
    and not exists (select 1 from tasks k where k.task_id = any(t.task_path) and (k.completed_at is not null or k.expires_at <= ${now}))
    and not exists (select 1 from clients c where c.client_id = any(t.parties || t.client_id)
      and (c.disabled_at is not null or c.tokens_not_before >= t.issued_at)))`
}
