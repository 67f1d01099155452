// The append-only audit trail: one row per event (the table refuses updates and deletes) and the
// same fields on one log line.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'

export type AuditType =
  | 'task.created'
  | 'task.completed'
  | 'token.revoked'
  | 'token_exchange.issued'
  | 'token_exchange.denied'
  | 'client.bootstrapped'
  | 'client.disabled'
  | 'client.enabled'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.password_set'
  | 'document.created'
  | 'document.updated'
  | 'approval.approved'
  | 'approval.denied'
  | 'grant.revoked'
  | 'user.signed_in'
  | 'user.sign_in_failed'
  | 'user.created'
  | 'policy_path.changed'
  | 'admin_console.signed_in'
  | 'admin_console.refused'
  | 'admin_console.signed_out'
  | 'document.deleted'
  | 'client.secret_rotated'
  | 'policy_path.retired'

export interface AuditEvent {
  type: AuditType
  at: number // epoch seconds
  actor: string | null
  requestId: string | null
  subject?: string | null
  taskId?: string | null
  jti?: string | null
  decisionId?: string | null
  data?: Record<string, unknown>
}

/** The event as its audit_events row (data as a value), for writers that store it with other rows. */
export const auditRow = (event: AuditEvent) => ({
  occurred_at: toDate(event.at),
  type: event.type,
  actor: event.actor,
  request_id: event.requestId,
  subject: event.subject ?? null,
  task_id: event.taskId ?? null,
  jti: event.jti ?? null,
  decision_id: event.decisionId ?? null,
  data: event.data ?? {},
})

export async function writeAudit(
  db: Kysely<DB>,
  event: AuditEvent,
  log?: { info(fields: object, msg: string): void },
): Promise<void> {
  const row = auditRow(event)
  await db
    .insertInto('audit_events')
    .values({ ...row, data: JSON.stringify(row.data) })
    .execute()
  log?.info(
    {
      audit: event.type,
      actor: event.actor,
      req_id: event.requestId,
      task_id: event.taskId,
      jti: event.jti,
      decision_id: event.decisionId,
    },
    'audit',
  )
}
