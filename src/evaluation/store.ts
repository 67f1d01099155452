// An evaluation's two statements: the token, active at the request's time, with its tasks' intents and end
// (one read, shared by concurrent evaluations), and the decision record, written before the answer leaves
// (one insert, shared too). An outage fails both closed: no answer is given without its record.
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { groupOn } from '../db/group.ts'
import type { DB } from '../db/schema.ts'
import type { DecisionRecord } from '../decisions/store.ts'
import { activeTokenSql, type IssuedToken } from '../lineage/tokens.ts'

export interface EvaluatedToken {
  row: IssuedToken
  /** The token's own task (its task_id), when it has one. */
  task?: { expires_at: Date } | undefined
  /**
   * The declared actions of every task the token depends on (its task_path), root first: a token exchanged
   * naming a parent task still depends on the subtask its subject token was for, and is bound by its intent.
   */
  intents: TaskIntent[]
}

export interface TaskIntent {
  task_id: string
  actions: string[]
}

type Row = IssuedToken & {
  lookup: number
  task_intents: TaskIntent[]
  task_expires_at: Date | null
}

/**
 * A decisions row from its JSON, stamped with the database's clock_timestamp() (microseconds, one clock for
 * every process), not the process clock's whole second: a task's actions timeline is read in this order.
 */
const stampedRecord = (record: RawBuilder<unknown>) =>
  sql`jsonb_populate_record(null::decisions, ${record} || jsonb_build_object('created_at', clock_timestamp()))`

/** The token if it is active at `now` (lineage/tokens.ts activeTokenSql: revocation, ancestors, tasks, parties). */
export function findEvaluatedToken(db: Kysely<DB>, jti: string, now: Date): Promise<EvaluatedToken | undefined> {
  return groupOn(db, 'evaluation.find_token', findTokens)({ jti, now })
}

async function findTokens(
  db: Kysely<DB>,
  lookups: readonly { jti: string; now: Date }[],
): Promise<(EvaluatedToken | undefined)[]> {
  const { rows } = await sql<Row>`
    select t.*, q.lookup::int as lookup, k.expires_at as task_expires_at,
      (select coalesce(jsonb_agg(jsonb_build_object('task_id', p.task_id, 'actions', p.actions)
          order by cardinality(p.task_path)), '[]'::jsonb)
        from tasks p where p.task_id = any(t.task_path) and p.actions is not null) as task_intents
    from unnest(${lookups.map((l) => l.jti)}::text[], ${lookups.map((l) => l.now)}::timestamptz[])
      with ordinality as q(jti, now, lookup)
    join issued_tokens t on t.jti = q.jti
    left join tasks k on k.task_id::text = t.task_id
    where ${activeTokenSql(sql<Date>`q.now`)}`.execute(db)
  const found: (EvaluatedToken | undefined)[] = lookups.map(() => undefined)
  for (const { lookup, task_intents, task_expires_at, ...row } of rows) {
    found[lookup - 1] = {
      row,
      task: task_expires_at ? { expires_at: task_expires_at } : undefined,
      intents: task_intents,
    }
  }
  return found
}

/**
 * For a token whose immutable facts are known (known-tokens.ts): its activity at `now` read and the record of
 * the outcome written in one statement, `ifActive` or `ifInactive`, shared by concurrent evaluations. Answers
 * whether the token was active, once the record is committed.
 */
export function recordIfActive(
  db: Kysely<DB>,
  call: { jti: string; now: Date; ifActive: DecisionRecord; ifInactive: DecisionRecord },
): Promise<boolean> {
  return groupOn(db, 'evaluation.decide', recordByActivity)(call)
}

async function recordByActivity(
  db: Kysely<DB>,
  calls: readonly { jti: string; now: Date; ifActive: DecisionRecord; ifInactive: DecisionRecord }[],
): Promise<boolean[]> {
  const input = calls.map((c, index) => ({
    n: index + 1,
    jti: c.jti,
    now: c.now,
    active: c.ifActive,
    inactive: c.ifInactive,
  }))
  const { rows } = await sql<{ n: number; active: boolean }>`
    with q as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as x(n int, jti text, now timestamptz, active jsonb, inactive jsonb)
    ), checked as (
      select q.n, q.active as if_active, q.inactive as if_inactive,
        exists (select 1 from issued_tokens t where t.jti = q.jti and ${activeTokenSql(sql<Date>`q.now`)}) as active
      from q
    ), recorded as (
      insert into decisions
      select d.* from checked c, lateral ${stampedRecord(sql`case when c.active then c.if_active else c.if_inactive end`)} d
    )
    select n, active from checked order by n`.execute(db)
  return rows.map((row) => row.active)
}

/** Written with the records of concurrent evaluations in one statement; answered once committed. */
export function writeEvaluationRecord(db: Kysely<DB>, record: DecisionRecord): Promise<void> {
  return groupOn(db, 'evaluation.record', insertRecords)(record)
}

async function insertRecords(db: Kysely<DB>, records: readonly DecisionRecord[]): Promise<undefined[]> {
  await sql`insert into decisions
    select d.* from jsonb_array_elements(${JSON.stringify(records)}::jsonb) with ordinality as e(record, n),
      lateral ${stampedRecord(sql`e.record`)} d
    order by e.n`.execute(db)
  return records.map(() => undefined)
}
