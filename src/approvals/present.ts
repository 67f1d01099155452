// An approval as the person, the admin API and the CLI see it.
import { type ApprovalRow, approvalState } from './store.ts'

export interface ApprovalView {
  approval_id: string
  status: ReturnType<typeof approvalState>
  action: string
  resource: string
  object_id: string
  task_id: string | null
  delegator: string
  agent: string
  actor_chain: string[]
  requested_at: string
  expires_at: string
  decided_at: string | null
  decided_by: string | null
  used_at: string | null
}

export const presentApproval = (row: ApprovalRow, now: Date): ApprovalView => ({
  approval_id: row.approval_id,
  status: approvalState(row, now),
  action: row.action,
  resource: row.resource,
  object_id: row.object_id,
  task_id: row.task_id,
  delegator: row.delegator,
  agent: row.holder,
  actor_chain: row.actor_chain,
  requested_at: row.created_at.toISOString(),
  expires_at: row.expires_at.toISOString(),
  decided_at: row.decided_at?.toISOString() ?? null,
  decided_by: row.decided_by,
  used_at: row.used_at?.toISOString() ?? null,
})
