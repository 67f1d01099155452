// Token lineage: one row per issued access token, written before the token leaves the server.
// Rows are never cascaded; activity is decided when a token is read (see findActiveToken).
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely'
import { groupOn } from '../db/group.ts'
import type { DB, IssuedTokensTable } from '../db/schema.ts'

export type IssuedToken = Selectable<IssuedTokensTable>

/** Columns written only when known: lineage, policy, task and actor from the grant; a DPoP binding. */
type OptionalColumn =
  | 'subject_issuer'
  | 'subject_ref'
  | 'task_id'
  | 'policy_path'
  | 'policy_version'
  | 'decision_id'
  | 'task_path'
  | 'actor_jti'
  | 'depends_on'
  | 'parties'
  | 'jkt'
  | 'grant_id'

/** A row as issued (never revoked yet), with claims and act as values: they are encoded here. */
export type IssuedTokenWrite = Omit<IssuedToken, 'revoked_at' | 'claims' | 'act' | OptionalColumn> &
  Partial<Pick<IssuedToken, OptionalColumn>> & { claims: Record<string, unknown>; act?: unknown }

/** The columns only the grant that minted a token knows (its lineage, decision, task and chain). */
export type GrantColumns = Pick<IssuedTokenWrite, 'act' | Exclude<OptionalColumn, 'jkt' | 'grant_id'>>

/** The row as the table types it (jsonb_populate_record): defaults for the columns a grant may omit. */
export const tokenRowJson = (row: IssuedTokenWrite): Record<string, unknown> => ({
  ...row,
  task_path: row.task_path ?? [],
  depends_on: row.depends_on ?? [],
  parties: row.parties ?? [row.client_id],
  act: row.act ?? null,
})

/** Written with the rows of concurrent issuances in one statement (db/group.ts); answered once committed. */
export async function recordIssuedToken(db: Kysely<DB>, row: IssuedTokenWrite): Promise<void> {
  await groupOn(db, 'issued_tokens.insert', insertTokens)(row)
}

async function insertTokens(db: Kysely<DB>, rows: readonly IssuedTokenWrite[]): Promise<undefined[]> {
  await sql`insert into issued_tokens
    select * from jsonb_populate_recordset(null::issued_tokens, ${JSON.stringify(rows.map(tokenRowJson))}::jsonb)`.execute(
    db,
  )
  return rows.map(() => undefined)
}

/**
 * The token, if it is active at `now` (see activeTokenSql). One indexed query, so a revocation, a task
 * completion or a client disabled anywhere is seen by the very next read on every process. Concurrent
 * lookups share one statement (db/group.ts), each with its own `now`, each sent after it was asked.
 */
export function findActiveToken(db: Kysely<DB>, jti: string, now: Date): Promise<IssuedToken | undefined> {
  return groupOn(db, 'issued_tokens.find_active', findActiveTokens)({ jti, now })
}

async function findActiveTokens(
  db: Kysely<DB>,
  lookups: readonly { jti: string; now: Date }[],
): Promise<(IssuedToken | undefined)[]> {
  const { rows } = await sql<IssuedToken & { lookup: number }>`
    select t.*, q.lookup::int as lookup
    from unnest(${lookups.map((l) => l.jti)}::text[], ${lookups.map((l) => l.now)}::timestamptz[])
      with ordinality as q(jti, now, lookup)
    join issued_tokens t on t.jti = q.jti
    where ${activeTokenSql(sql<Date>`q.now`)}`.execute(db)
  const found: (IssuedToken | undefined)[] = lookups.map(() => undefined)
  for (const { lookup, ...row } of rows) found[lookup - 1] = row
  return found
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
 * Revokes every token of an oidc-provider grant (one sign-in's consent: its authorization_code and
 * refresh_token tokens); their exchanged descendants die at read through their ancestors.
 */
export async function revokeGrantTokens(db: Kysely<DB>, grantId: string, now: Date): Promise<IssuedToken[]> {
  return db
    .updateTable('issued_tokens')
    .set({ revoked_at: now })
    .where('grant_id', '=', grantId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .execute()
}

/**
 * The one activity rule, as a SQL condition on `issued_tokens t`: unexpired, not revoked; of a sign-in
 * grant (grant_id) only while that grant exists; no ancestor, nor any token it depends on (actor tokens
 * and their chains), revoked or of a grant that is gone; every task it depends on neither completed nor
 * expired; no party (holder, actor, earlier holder) disabled, nor disabled since the token was issued;
 * and, for a token whose subject is one of our users (subject_issuer null, sub = username), that user
 * neither disabled nor disabled since. Rows written before `parties` existed keep their holder as a party.
 */
export function activeTokenSql(now: Date | RawBuilder<Date>): RawBuilder<boolean> {
  return sql<boolean>`(t.revoked_at is null and t.expires_at > ${now}
    and ${grantLives(sql`t`)}
    and not exists (select 1 from issued_tokens a where a.jti = any(t.ancestors || t.depends_on)
      and (a.revoked_at is not null or not ${grantLives(sql`a`)}))
    and not exists (select 1 from tasks k where k.task_id = any(t.task_path) and (k.completed_at is not null or k.expires_at <= ${now}))
    and not exists (select 1 from clients c where c.client_id = any(t.parties || t.client_id)
      and (c.disabled_at is not null or c.tokens_not_before >= t.issued_at))
    and not exists (select 1 from users u where t.subject_issuer is null and u.username = t.sub
      and (u.disabled_at is not null or u.tokens_not_before >= t.issued_at)))`
}

/**
 * RFC 9700 §4.14.2: revoking a grant (a reused code or refresh token, a logout, a revoked refresh token,
 * a disabled user) deletes its Grant. A token of it written after the revocation ran (the request that
 * won a concurrent reuse was still issuing) escapes revokeGrantTokens, so the grant itself is read too.
 */
const grantLives = (token: RawBuilder<unknown>): RawBuilder<boolean> =>
  sql<boolean>`(${token}.grant_id is null or exists (select 1 from oidc_payloads g
    where g.model = 'Grant' and g.id = ${token}.grant_id))`
