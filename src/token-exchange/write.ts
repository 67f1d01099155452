// What an exchange writes, each in one statement (one round trip, atomic without a transaction):
// - an issuance: the DPoP proof spent, the tasks it depends on held (FOR SHARE, in the one lock order)
//   and checked live, then the lineage row, its allow decision record and audit event — all or nothing;
// - a refusal: its deny decision record and audit event.
// Rows are handed over as JSON and typed by their table's own row type (jsonb_populate_record), so a
// column's type is the table's, never a guess about a parameter.
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import { type AuditEvent, auditRow } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import type { DecisionRecord } from '../decisions/store.ts'
import { replayRows } from '../dpop/claim.ts'
import type { DpopProof } from '../dpop/proof.ts'
import { toDate } from '../lib/clock.ts'
import type { IssuedTokenWrite } from '../lineage/tokens.ts'

const auditJson = (event: AuditEvent) => JSON.stringify(auditRow(event))

const AUDIT_COLUMNS = sql`occurred_at, type, actor, request_id, subject, task_id, jti, decision_id, data`

const tokenJson = (row: IssuedTokenWrite) =>
  JSON.stringify({
    ...row,
    task_path: row.task_path ?? [],
    depends_on: row.depends_on ?? [],
    parties: row.parties ?? [row.client_id],
    act: row.act ?? null,
  })

export type IssuanceOutcome =
  | { issued: true }
  /** RFC 9449 §11.1: the proof was spent before. */
  | { issued: false; problem: 'proof_replayed' }
  /** A task the token depends on completed or expired during the exchange. */
  | { issued: false; problem: 'task_ended'; taskId: string }

export async function writeIssuance(
  db: Kysely<DB>,
  input: {
    row: IssuedTokenWrite
    decision: DecisionRecord
    audit: AuditEvent
    /** Every task the token depends on (its task_path). */
    taskPath: readonly string[]
    proof?: { presenter: string; proof: DpopProof } | undefined
    now: number
  },
): Promise<IssuanceOutcome> {
  const now = toDate(input.now)
  const claims = input.proof ? replayRows(input.proof.presenter, input.proof.proof, input.now) : undefined
  const { rows } = await sql<{ ended: string | null; claimed: number; issued: boolean }>`
    with guard as (
      select task_id, completed_at, expires_at from tasks where task_id = any(${[...input.taskPath]}::uuid[])
      order by cardinality(task_path), task_id for share
    ), ended as (
      select task_id from guard where completed_at is not null or expires_at <= ${now} limit 1
    ), wanted as (
      select c.id, c.payload from jsonb_to_recordset(${JSON.stringify(claims?.rows ?? [])}::jsonb) as c(id text, payload jsonb)
    ), claimed as (
      -- All namespaces or none: a proof already held in one is not claimed in the others (a racing
      -- claimant still uncommitted is caught by the conflict below, and the token withheld).
      insert into oidc_payloads (model, id, payload, expires_at)
      select 'ReplayDetection', w.id, w.payload, ${claims?.until ?? now} from wanted w
      where not exists (select 1 from ended)
        and not exists (select 1 from oidc_payloads p join wanted x on p.id = x.id
          where p.model = 'ReplayDetection' and p.expires_at > ${now})
      on conflict (model, id) do update set payload = excluded.payload, expires_at = excluded.expires_at, consumed_at = null
        where oidc_payloads.expires_at <= ${now}
      returning 1
    ), token as (
      insert into issued_tokens
      select * from jsonb_populate_record(null::issued_tokens, ${tokenJson(input.row)}::jsonb)
      where not exists (select 1 from ended) and (select count(*) from claimed) = ${claims?.rows.length ?? 0}
      returning jti
    ), decision as (
      insert into decisions
      select * from jsonb_populate_record(null::decisions, ${JSON.stringify(input.decision)}::jsonb)
      where exists (select 1 from token)
    ), audit as (
      insert into audit_events (${AUDIT_COLUMNS})
      select ${AUDIT_COLUMNS} from jsonb_populate_record(null::audit_events, ${auditJson(input.audit)}::jsonb)
      where exists (select 1 from token)
    )
    select (select task_id::text from ended) as ended, (select count(*)::int from claimed) as claimed,
      exists (select 1 from token) as issued`.execute(db)
  const result = rows[0] as { ended: string | null; issued: boolean }
  if (result.issued) return { issued: true }
  if (result.ended !== null) return { issued: false, problem: 'task_ended', taskId: result.ended }
  return { issued: false, problem: 'proof_replayed' }
}

/** A refusal's deny decision record and its audit event, together. */
export async function writeRefusal(db: Kysely<DB>, decision: DecisionRecord, audit: AuditEvent): Promise<void> {
  await sql`
    with decision as (
      insert into decisions select * from jsonb_populate_record(null::decisions, ${JSON.stringify(decision)}::jsonb)
    )
    insert into audit_events (${AUDIT_COLUMNS})
    select ${AUDIT_COLUMNS} from jsonb_populate_record(null::audit_events, ${auditJson(audit)}::jsonb)`.execute(db)
}
