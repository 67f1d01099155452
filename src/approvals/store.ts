// approvals rows: a person's say on one action of an agent on one object, requested by an evaluation and
// used by exactly one later evaluation. Requests for the same (holder, person, task, action, resource,
// object) are serialised by an advisory lock, so concurrent evaluations share one pending request.
import { type Kysely, type Selectable, sql } from 'kysely'
import type { ApprovalsTable, DB } from '../db/schema.ts'
import { inTaskTree } from '../tasks/store.ts'

export type ApprovalRow = Selectable<ApprovalsTable>
export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'used'] as const
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number]

/** What one approval is for: an evaluation asks for (and may use) only an approval with the same key. */
export interface ApprovalKey {
  holder: string
  delegator: string
  delegatorIssuer: string
  taskId: string | null
  resource: string
  objectId: string
  action: string
}

/** Unanswered requests one agent may have before one person at once: a person is asked, not flooded. */
export const MAX_PENDING_APPROVALS = 20

// One lock per agent and person (JSON: unambiguous whatever the names hold), so the requests of one key are
// one, and the pending cap is exact.
const lockText = (key: ApprovalKey) => JSON.stringify(['approval', key.holder, key.delegatorIssuer, key.delegator])

const sameKey = (key: ApprovalKey) => sql<boolean>`holder = ${key.holder} and delegator = ${key.delegator}
  and delegator_issuer = ${key.delegatorIssuer} and task_id is not distinct from ${key.taskId}::uuid
  and resource = ${key.resource} and object_id = ${key.objectId} and action = ${key.action}`

/**
 * Within a transaction: holds the agent and person until commit, then the latest unexpired request for the key
 * that is still open (pending or approved) or was denied (a refusal stands until it expires).
 */
export async function latestApproval(trx: Kysely<DB>, key: ApprovalKey, now: Date): Promise<ApprovalRow | undefined> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${lockText(key)}, 0))`.execute(trx)
  const { rows } = await sql<ApprovalRow>`select * from approvals
    where ${sameKey(key)} and status in ('pending', 'approved', 'denied') and expires_at > ${now}
    order by created_at desc limit 1`.execute(trx)
  return rows[0]
}

/**
 * Stamped with the database's clock_timestamp() (microseconds, one clock for every process), not the process
 * clock's whole second, as evaluation records are: approvals are listed newest first in this order.
 */
/** Within latestApproval's transaction: the agent's unanswered, unexpired requests before this person. */
export async function pendingCount(trx: Kysely<DB>, key: ApprovalKey, now: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from approvals
    where holder = ${key.holder} and delegator = ${key.delegator} and delegator_issuer = ${key.delegatorIssuer}
      and status = 'pending' and expires_at > ${now}`.execute(trx)
  return rows[0]?.n ?? 0
}

export async function insertApproval(trx: Kysely<DB>, row: ApprovalRow): Promise<void> {
  await trx
    .insertInto('approvals')
    .values({ ...row, created_at: sql<Date>`clock_timestamp()` })
    .execute()
}

/** Spends an approved request: one use, by the evaluation `decisionId`. */
export async function useApproval(
  trx: Kysely<DB>,
  approvalId: string,
  decisionId: string,
  now: Date,
): Promise<boolean> {
  const result = await trx
    .updateTable('approvals')
    .set({ status: 'used', used_at: now, used_decision_id: decisionId })
    .where('approval_id', '=', approvalId)
    .where('status', '=', 'approved')
    .where('expires_at', '>', now)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** The person's answer to a pending, unexpired request; undefined when there is none to answer. */
export async function answerApproval(
  db: Kysely<DB>,
  approvalId: string,
  answer: { status: 'approved' | 'denied'; by: string; now: Date },
): Promise<ApprovalRow | undefined> {
  return db
    .updateTable('approvals')
    .set({ status: answer.status, decided_at: answer.now, decided_by: answer.by })
    .where('approval_id', '=', approvalId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', answer.now)
    .returningAll()
    .executeTakeFirst()
}

export function findApproval(db: Kysely<DB>, approvalId: string): Promise<ApprovalRow | undefined> {
  return db.selectFrom('approvals').selectAll().where('approval_id', '=', approvalId).executeTakeFirst()
}

export interface ApprovalFilter {
  /** As shown (approvalState) at `now`: a request past its end unanswered or unused is expired. */
  status?: { state: ApprovalState; now: Date } | undefined
  /** Approvals of this task, and of its subtasks with `tree`. */
  taskId?: string | undefined
  tree?: boolean
  delegator?: string | undefined
  limit: number
}

/** Newest first. */
export function listApprovals(db: Kysely<DB>, filter: ApprovalFilter): Promise<ApprovalRow[]> {
  let query = db.selectFrom('approvals').selectAll().orderBy('created_at', 'desc').limit(filter.limit)
  const { state, now } = filter.status ?? {}
  if (state === 'expired')
    query = query.where('status', 'in', ['pending', 'approved']).where('expires_at', '<=', now as Date)
  else if (state === 'pending' || state === 'approved')
    query = query.where('status', '=', state).where('expires_at', '>', now as Date)
  else if (state) query = query.where('status', '=', state)
  const { taskId } = filter
  if (taskId && filter.tree)
    query = query.where((eb) =>
      eb('task_id', 'in', eb.selectFrom('tasks').select('tasks.task_id').where(inTaskTree(taskId, 'tasks'))),
    )
  else if (taskId) query = query.where('task_id', '=', taskId)
  if (filter.delegator) query = query.where('delegator', '=', filter.delegator)
  return query.execute()
}

export const APPROVAL_STATES = [...APPROVAL_STATUSES, 'expired'] as const
export type ApprovalState = (typeof APPROVAL_STATES)[number]

/** An approval's state as shown: a pending or approved request past its end is expired. */
export const approvalState = (row: Pick<ApprovalRow, 'status' | 'expires_at'>, now: Date): ApprovalState =>
  (row.status === 'pending' || row.status === 'approved') && row.expires_at <= now
    ? 'expired'
    : (row.status as ApprovalStatus)
