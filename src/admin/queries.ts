// Lineage and audit read models, shared by the admin API and the CLI.
import { type Kysely, type Selectable, sql } from 'kysely'
import type { DB, DecisionsTable } from '../db/schema.ts'
import { isUuid } from '../lib/uuid.ts'
import { activeTokenSql, type IssuedToken } from '../lineage/tokens.ts'
import { actorsOf, identityOnly } from '../policy/act-claim.ts'
import { presentApproval } from '../approvals/present.ts'
import { listApprovals } from '../approvals/store.ts'
import { presentTask } from '../tasks/present.ts'
import { findTask, inTaskTree, listSubtasks, type TaskRow, tokenCounts } from '../tasks/store.ts'

export interface TokenView {
  jti: string
  parent_jti: string | null
  client_id: string
  sub: string
  actor_chain: string[]
  aud: string[]
  scope: string
  grant_type: string
  task_id: string | null
  policy_path: string | null
  policy_version: number | null
  issued_at: string
  expires_at: string
  revoked_at: string | null
  active: boolean
}

const present = (row: IssuedToken & { active: boolean }): TokenView => ({
  jti: row.jti,
  parent_jti: row.parent_jti,
  client_id: row.client_id,
  sub: row.sub,
  actor_chain: actorsOf(identityOnly(row.act)),
  aud: row.aud,
  scope: row.scope.join(' '),
  grant_type: row.grant_type,
  task_id: row.task_id,
  policy_path: row.policy_path,
  policy_version: row.policy_version,
  issued_at: row.issued_at.toISOString(),
  expires_at: row.expires_at.toISOString(),
  revoked_at: row.revoked_at?.toISOString() ?? null,
  active: row.active,
})

function tokensWhere(db: Kysely<DB>, now: Date) {
  return db.selectFrom('issued_tokens as t').selectAll('t').select(activeTokenSql(now).as('active'))
}

export async function taskDetail(db: Kysely<DB>, taskId: string, now: Date) {
  const task = await findTask(db, taskId)
  if (!task) return undefined
  const [subtasks, tokens, counts, timeline, approvals] = await Promise.all([
    listSubtasks(db, taskId),
    tokensWhere(db, now).where(inTaskTree(taskId, 't')).orderBy('t.issued_at').execute(),
    tokenCounts(db, taskId, now),
    actionsTimeline(db, taskId),
    listApprovals(db, { taskId, tree: true, limit: TIMELINE_LIMIT }),
  ])
  return {
    task: { ...presentTask(task, now, { detailed: true }), tokens: counts },
    subtasks: subtasks.map((s) => presentTask(s, now, { detailed: true })),
    token_tree: tokens.map((t) => present(t as IssuedToken & { active: boolean })),
    actions: timeline,
    approvals: approvals.map((a) => presentApproval(a, now)),
  }
}

/** The newest evaluations of a task tree shown with it; older ones are at /admin/v1/decisions?task_id=. */
const TIMELINE_LIMIT = 500

/**
 * What the task's agents asked to do, oldest first: every evaluation of a token of the task or one of its
 * subtasks, allowed or denied, with who acted through whom on what (runtime authorization).
 */
async function actionsTimeline(db: Kysely<DB>, taskId: string) {
  const rows = await db
    .selectFrom('decisions as d')
    .selectAll('d')
    .where('d.kind', '=', 'evaluation')
    .where((eb) =>
      eb(
        'd.task_id',
        'in',
        eb.selectFrom('tasks as k').select(sql<string>`k.task_id::text`.as('task_id')).where(inTaskTree(taskId, 'k')),
      ),
    )
    .orderBy('d.created_at', 'desc')
    .limit(TIMELINE_LIMIT)
    .execute()
  return rows.reverse().map((row) => ({
    time: row.created_at.toISOString(),
    action: row.action,
    resource: row.resources[0] ?? null,
    object_id: row.object_id,
    result: row.result,
    reason: row.reason,
    agent: row.client_id,
    actor_chain: row.actor_chain,
    task_id: row.task_id,
    asked_by: row.caller_id,
    approval_id: row.approval_id,
    decision_id: row.decision_id,
  }))
}

export async function tokenLineage(db: Kysely<DB>, jti: string, now: Date) {
  const token = await tokensWhere(db, now).where('t.jti', '=', jti).executeTakeFirst()
  if (!token) return undefined
  const [ancestors, descendants] = await Promise.all([
    token.ancestors.length
      ? tokensWhere(db, now)
          .where((eb) => eb('t.jti', '=', eb.fn.any(eb.val(token.ancestors))))
          .execute()
      : Promise.resolve([]),
    tokensWhere(db, now)
      .where((eb) => eb(sql.val(jti), '=', eb.fn.any('t.ancestors')))
      .orderBy('t.issued_at')
      .execute(),
  ])
  const byOrder = new Map(token.ancestors.map((id, index) => [id, index]))
  return {
    token: present(token as IssuedToken & { active: boolean }),
    ancestors: ancestors
      .sort((a, b) => (byOrder.get(a.jti) ?? 0) - (byOrder.get(b.jti) ?? 0))
      .map((t) => present(t as IssuedToken & { active: boolean })),
    descendants: descendants.map((t) => present(t as IssuedToken & { active: boolean })),
  }
}

export interface DecisionFilter {
  task_id?: string | undefined
  client_id?: string | undefined
  subject?: string | undefined
  since?: Date | undefined
  limit: number
}

const presentDecision = (
  row: Selectable<DecisionsTable>,
  task?: Pick<TaskRow, 'purpose' | 'delegator' | 'outcome'> | undefined,
) => ({
  decision_id: row.decision_id,
  kind: row.kind,
  time: row.created_at.toISOString(),
  result: row.result,
  reason: row.reason,
  detail: row.detail,
  client_id: row.client_id,
  subject: row.subject,
  subject_issuer: row.subject_issuer,
  actor_chain: row.actor_chain,
  resources: row.resources,
  requested_scope: row.requested_scope?.join(' ') ?? null,
  granted_scope: row.granted_scope?.join(' ') ?? null,
  policy_path: row.policy_path,
  policy_version: row.policy_version,
  policy_versions: row.policy_versions,
  constrained_by: row.constrained_by,
  task_id: row.task_id,
  ...(task ? { task: { purpose: task.purpose, delegator: task.delegator, outcome: task.outcome } } : {}),
  issued_jti: row.issued_jti,
  request_id: row.request_id,
  ...(row.kind === 'evaluation'
    ? { action: row.action, object_id: row.object_id, asked_by: row.caller_id, approval_id: row.approval_id }
    : {}),
})

export async function listDecisions(db: Kysely<DB>, filter: DecisionFilter) {
  let query = db.selectFrom('decisions').selectAll().orderBy('created_at', 'desc').limit(filter.limit)
  if (filter.task_id) query = query.where('task_id', '=', filter.task_id)
  if (filter.client_id) query = query.where('client_id', '=', filter.client_id)
  if (filter.subject) query = query.where('subject', '=', filter.subject)
  if (filter.since) query = query.where('created_at', '>=', filter.since)
  const rows = await query.execute()
  // The whole chain in the list too: each task's purpose and delegator, one query for the page.
  const taskIds = [...new Set(rows.flatMap((row) => (row.task_id && isUuid(row.task_id) ? [row.task_id] : [])))]
  const tasks = taskIds.length
    ? await db
        .selectFrom('tasks')
        .select(['task_id', 'purpose', 'delegator', 'outcome'])
        .where((eb) => eb('task_id', '=', eb.fn.any(eb.val(taskIds))))
        .execute()
    : []
  const byId = new Map(tasks.map((task) => [task.task_id, task]))
  return rows.map((row) => presentDecision(row, row.task_id ? byId.get(row.task_id) : undefined))
}

/** One decision with the whole chain: the person who delegated, the agents, the task's purpose. */
export async function getDecision(db: Kysely<DB>, decisionId: string) {
  if (!isUuid(decisionId)) return undefined // decision ids are uuids too
  const row = await db.selectFrom('decisions').selectAll().where('decision_id', '=', decisionId).executeTakeFirst()
  if (!row) return undefined
  const task = row.task_id ? await findTask(db, row.task_id) : undefined
  return presentDecision(row, task)
}

export async function listAudit(
  db: Kysely<DB>,
  filter: { since?: Date | undefined; type?: string | undefined; task_id?: string | undefined; limit: number },
) {
  let query = db.selectFrom('audit_events').selectAll().orderBy('event_id', 'desc').limit(filter.limit)
  if (filter.since) query = query.where('occurred_at', '>=', filter.since)
  if (filter.type) query = query.where('type', '=', filter.type)
  if (filter.task_id && isUuid(filter.task_id)) query = query.where('task_id', '=', filter.task_id)
  const rows = await query.execute()
  return rows.map((row) => ({
    event_id: Number(row.event_id),
    type: row.type,
    time: row.occurred_at.toISOString(),
    actor: row.actor,
    request_id: row.request_id,
    subject: row.subject,
    task_id: row.task_id,
    jti: row.jti,
    decision_id: row.decision_id,
    data: row.data,
  }))
}
