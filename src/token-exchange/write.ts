// What an exchange writes, each in one statement (one round trip, atomic without a transaction):
// - an issuance: the DPoP proof spent, the tasks it depends on held (FOR SHARE, in the one lock order)
//   and checked live, then the lineage row, its allow decision record and audit event — all or nothing;
// - a refusal: its deny decision record and audit event.
// Concurrent exchanges share these statements (group commit, db/group.ts), each decided on its own inside.
// Rows are handed over as JSON and typed by their table's own row type (jsonb_populate_record), so a
// column's type is the table's, never a guess about a parameter.
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import { type AuditEvent, auditRow } from '../audit/write.ts'
import { groupOn } from '../db/group.ts'
import type { DB } from '../db/schema.ts'
import type { DecisionRecord } from '../decisions/store.ts'
import { replayRows } from '../dpop/claim.ts'
import type { DpopProof } from '../dpop/proof.ts'
import { toDate } from '../lib/clock.ts'
import { type IssuedTokenWrite, tokenRowJson } from '../lineage/tokens.ts'

const AUDIT_COLUMNS = sql`occurred_at, type, actor, request_id, subject, task_id, jti, decision_id, data`

// The rows each statement writes, as CTEs over `source` (a CTE whose column `e` holds one request's JSON).
// Expanded in FROM (lateral): as (f(x)).* the function would run once per column.
const recordRows = (source: string) => sql`decision as (
      insert into decisions select d.* from ${sql.id(source)}, jsonb_populate_record(null::decisions, ${sql.id(source)}.e->'decision') d
    ), audit as (
      insert into audit_events (${AUDIT_COLUMNS})
      select ${AUDIT_COLUMNS} from ${sql.id(source)}, jsonb_populate_record(null::audit_events, ${sql.id(source)}.e->'audit')
    )`
const issuedRows = (source: string) => sql`token as (
      insert into issued_tokens select t.* from ${sql.id(source)}, jsonb_populate_record(null::issued_tokens, ${sql.id(source)}.e->'token') t
    ), ${recordRows(source)}`

export type IssuanceOutcome =
  | { issued: true }
  /** RFC 9449 §11.1: the proof was spent before. */
  | { issued: false; problem: 'proof_replayed' }
  /** A task the token depends on completed or expired during the exchange. */
  | { issued: false; problem: 'task_ended'; taskId: string }

export interface IssuanceWrite {
  row: IssuedTokenWrite
  decision: DecisionRecord
  audit: AuditEvent
  /** Every task the token depends on (its task_path). */
  taskPath: readonly string[]
  proof?: { presenter: string; proof: DpopProof } | undefined
  now: number
}

/**
 * Concurrent issuances are written by one statement (db/group.ts), each all or nothing on its own. One
 * that depends on no task and spends no proof has nothing to hold or claim: those are grouped apart, in a
 * statement of three inserts (measured: less than half the Postgres CPU of the full statement).
 */
export function writeIssuance(db: Kysely<DB>, input: IssuanceWrite): Promise<IssuanceOutcome> {
  if (input.taskPath.length === 0 && !input.proof) return groupOn(db, 'token_exchange.issue_plain', writePlain)(input)
  return groupOn(db, 'token_exchange.issue', writeIssuances)(input)
}

async function writePlain(db: Kysely<DB>, inputs: readonly IssuanceWrite[]): Promise<IssuanceOutcome[]> {
  const rows = inputs.map((input) => ({
    token: tokenRowJson(input.row),
    decision: input.decision,
    audit: auditRow(input.audit),
  }))
  await sql`with r as (select e from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) e), ${issuedRows('r')}
    select 1`.execute(db)
  return inputs.map(() => ({ issued: true }))
}

async function writeIssuances(db: Kysely<DB>, inputs: readonly IssuanceWrite[]): Promise<IssuanceOutcome[]> {
  const requests = inputs.map((input, i) => {
    const claims = input.proof ? replayRows(input.proof.presenter, input.proof.proof, input.now) : undefined
    return {
      i,
      now: toDate(input.now),
      task_path: input.taskPath,
      claims: claims?.rows ?? [],
      until: claims?.until ?? null,
      token: tokenRowJson(input.row),
      decision: input.decision,
      audit: auditRow(input.audit),
    }
  })
  // A claim is spent until it expires; the group's earliest clock decides (a claim expiring within the
  // group's few milliseconds counts as held: stricter, never looser, than each request alone).
  const earliest = toDate(Math.min(...inputs.map((input) => input.now)))
  // A group does not wait on a task row another holds (a completion running): it fails at once (55P03),
  // and each of its requests is sent again alone (db/group.ts), where only those of that task wait — never
  // a request that depends on no such task, nor one whose wait would fail it with the others.
  const lockMode = inputs.length > 1 ? sql`for share nowait` : sql`for share`
  // Per request (r.i): the first task it depends on that has ended, and whether every claim it wants was
  // made. The tasks of the whole group are held together (FOR SHARE, in the one lock order). A group that
  // spends no proof leaves the claims out (a smaller statement to plan and run).
  const claiming = inputs.some((input) => input.proof)
  const claims = sql`, wanted as (
      select r.i, c.id, c.payload, (r.e->>'until')::timestamptz as until
      from r, jsonb_to_recordset(r.e->'claims') as c(id text, payload jsonb)
    ), eligible as (
      -- All namespaces or none: a proof already held in one is not claimed in the others (a racing
      -- claimant still uncommitted is caught by the conflict below, and the token withheld).
      select r.i from r where not exists (select 1 from ended where ended.i = r.i)
        and not exists (select 1 from wanted w join oidc_payloads p on p.model = 'ReplayDetection' and p.id = w.id
          where w.i = r.i and p.expires_at > ${earliest})
    ), claimed as (
      insert into oidc_payloads (model, id, payload, expires_at)
      select 'ReplayDetection', w.id, w.payload, w.until from wanted w where w.i in (select i from eligible)
      order by w.id -- one order for every group: two groups claiming the same keys never wait on each other in a cycle
      on conflict (model, id) do update set payload = excluded.payload, expires_at = excluded.expires_at, consumed_at = null
        where oidc_payloads.expires_at <= ${earliest}
      returning id
    ), issuing as (
      select r.i, r.e from r where r.i in (select i from eligible)
        and (select count(*) from wanted w where w.i = r.i) = (select count(*) from claimed c join wanted w on w.id = c.id where w.i = r.i)
    )`
  const noClaims = sql`, issuing as (
      select r.i, r.e from r where not exists (select 1 from ended where ended.i = r.i)
    )`
  const { rows } = await sql<{ i: number; ended: string | null; issued: boolean }>`
    with r as (
      select (e->>'i')::int as i, (e->>'now')::timestamptz as now, e from jsonb_array_elements(${JSON.stringify(requests)}::jsonb) e
    ), needs as (
      select r.i, p.task_id::uuid as task_id from r, jsonb_array_elements_text(r.e->'task_path') as p(task_id)
    ), guard as (
      select task_id, cardinality(task_path) as depth, completed_at, expires_at from tasks where task_id in (select task_id from needs)
      order by cardinality(task_path), task_id ${lockMode}
    ), ended as (
      select distinct on (n.i) n.i, n.task_id from needs n join guard g using (task_id) join r using (i)
      -- the ancestor-most first, in the lock order (the grant names the refusal by it: grant.ts endedReason)
      where g.completed_at is not null or g.expires_at <= r.now order by n.i, g.depth, n.task_id
    )${claiming ? claims : noClaims}, ${issuedRows('issuing')}
    select r.i, (select ended.task_id::text from ended where ended.i = r.i) as ended,
      exists (select 1 from issuing where issuing.i = r.i) as issued
    from r order by r.i`.execute(db)
  return rows.map((result): IssuanceOutcome => {
    if (result.issued) return { issued: true }
    if (result.ended !== null) return { issued: false, problem: 'task_ended', taskId: result.ended }
    return { issued: false, problem: 'proof_replayed' }
  })
}

interface RefusalWrite {
  decision: DecisionRecord
  audit: AuditEvent
}

/** A refusal's deny decision record and its audit event, together; concurrent refusals in one statement. */
export async function writeRefusal(db: Kysely<DB>, decision: DecisionRecord, audit: AuditEvent): Promise<void> {
  await groupOn(db, 'token_exchange.refuse', writeRefusals)({ decision, audit })
}

async function writeRefusals(db: Kysely<DB>, refusals: readonly RefusalWrite[]): Promise<undefined[]> {
  const rows = refusals.map(({ decision, audit }) => ({ decision, audit: auditRow(audit) }))
  await sql`with r as (select e from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) e), ${recordRows('r')}
    select 1`.execute(db)
  return refusals.map(() => undefined)
}
