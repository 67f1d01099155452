// The read-only pages of the console: decisions, approvals and audit events with their filters (GET forms,
// so a filtered view is a link), a task with its token tree and actions timeline, and the registered clients
// and resources. Each reads with the admin API's own functions (admin/queries.ts, approvals/store.ts).
import type { Context } from 'koa'
import { listAudit, listDecisions, taskDetail } from '../admin/queries.ts'
import { presentApproval } from '../approvals/present.ts'
import { APPROVAL_STATES, type ApprovalState, listApprovals } from '../approvals/store.ts'
import { toDate } from '../lib/clock.ts'
import { isUuid } from '../lib/uuid.ts'
import type { ConsoleDeps, PageHandler } from './routes.ts'
import { message } from './routes.ts'
import { approvalsPage, auditPage, clientsPage, decisionsPage, type Filter, resourcesPage, taskPage } from './views.ts'

const LIMIT = 200

/** The filter fields of a list page, as typed (shown again in the form) and as read. */
function filters(ctx: Context, names: readonly string[]): Filter {
  const values: Record<string, string> = {}
  for (const name of names) {
    const value = ctx.query[name]
    if (typeof value === 'string' && value.trim() !== '') values[name] = value.trim().slice(0, 500)
  }
  return values
}

const sinceOf = (filter: Filter): Date | undefined | 'invalid' => {
  if (!filter.since) return undefined
  const date = new Date(filter.since)
  return Number.isNaN(date.getTime()) ? 'invalid' : date
}

export function viewRoutes(deps: ConsoleDeps): Record<string, PageHandler> {
  const now = () => toDate(deps.clock.now())
  return {
    async 'GET /admin/decisions'(ctx, person) {
      const filter = filters(ctx, ['client_id', 'subject', 'task_id', 'since'])
      const since = sinceOf(filter)
      const problem = since === 'invalid' ? 'Since must be a date and time, like 2026-01-31T09:00:00Z.' : undefined
      const decisions =
        problem || (filter.task_id && !isUuid(filter.task_id))
          ? []
          : await listDecisions(deps.db, {
              task_id: filter.task_id,
              client_id: filter.client_id,
              subject: filter.subject,
              since: since as Date | undefined,
              limit: LIMIT,
            })
      if (problem) ctx.status = 400
      ctx.body = decisionsPage({ ...person.frame, section: 'decisions' }, filter, decisions, problem)
    },

    async 'GET /admin/approvals'(ctx, person) {
      const filter = filters(ctx, ['status', 'task_id', 'delegator'])
      const status = filter.status as ApprovalState | undefined
      const problem =
        status && !APPROVAL_STATES.includes(status) ? `Status must be one of ${APPROVAL_STATES.join(', ')}.` : undefined
      const rows =
        problem || (filter.task_id && !isUuid(filter.task_id))
          ? []
          : await listApprovals(deps.db, {
              status: status ? { state: status, now: now() } : undefined,
              taskId: filter.task_id,
              delegator: filter.delegator,
              limit: LIMIT,
            })
      if (problem) ctx.status = 400
      ctx.body = approvalsPage(
        { ...person.frame, section: 'approvals' },
        filter,
        rows.map((row) => presentApproval(row, now())),
        problem,
      )
    },

    async 'GET /admin/audit'(ctx, person) {
      const filter = filters(ctx, ['type', 'task_id', 'since'])
      const since = sinceOf(filter)
      const problem = since === 'invalid' ? 'Since must be a date and time, like 2026-01-31T09:00:00Z.' : undefined
      const events = problem
        ? []
        : await listAudit(deps.db, {
            type: filter.type,
            task_id: filter.task_id,
            since: since as Date | undefined,
            limit: LIMIT,
          })
      if (problem) ctx.status = 400
      ctx.body = auditPage({ ...person.frame, section: 'audit' }, filter, events, problem)
    },

    async 'GET /admin/task'(ctx, person) {
      const id = typeof ctx.query.id === 'string' ? ctx.query.id : ''
      const detail = isUuid(id) ? await taskDetail(deps.db, id, now()) : undefined
      if (!detail) return message(ctx, 404, 'Not found', 'No such task.', person.frame)
      ctx.body = taskPage({ ...person.frame, section: 'decisions' }, detail)
    },

    async 'GET /admin/clients'(ctx, person) {
      const rows = await deps.db
        .selectFrom('clients')
        .select(['client_id', 'description', 'profile', 'grant_types', 'scopes', 'agent', 'disabled_at', 'updated_at'])
        .orderBy('client_id')
        .execute()
      ctx.body = clientsPage({ ...person.frame, section: 'clients' }, rows)
    },

    async 'GET /admin/resources'(ctx, person) {
      const rows = await deps.db
        .selectFrom('resources')
        .select(['name', 'uri', 'description', 'scopes', 'access_token_lifetime', 'updated_at'])
        .orderBy('name')
        .execute()
      ctx.body = resourcesPage({ ...person.frame, section: 'resources' }, rows)
    },
  }
}
