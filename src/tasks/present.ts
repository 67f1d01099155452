// A task as the tasks API and the admin API show it.
import { type TaskRow, type TaskStatus, statusOf } from './store.ts'

export interface TaskView {
  task_id: string
  status: TaskStatus
  delegator: string
  agent: string
  purpose: string
  resources: string[]
  scope: string
  created_at: string
  expires_at: string
  parent_task_id: string | null
  /** The declared intent (absent when the task declared none). */
  actions?: string[]
  completed_at?: string | null
  outcome?: string | null
}

export function presentTask(task: TaskRow, now: Date, options: { detailed?: boolean } = {}): TaskView {
  return {
    task_id: task.task_id,
    status: statusOf(task, now),
    delegator: task.delegator,
    agent: task.client_id,
    purpose: task.purpose,
    resources: task.resources,
    scope: task.scope.join(' '),
    created_at: task.created_at.toISOString(),
    expires_at: task.expires_at.toISOString(),
    parent_task_id: task.parent_task_id,
    ...(task.actions ? { actions: task.actions } : {}),
    ...(options.detailed ? { completed_at: task.completed_at?.toISOString() ?? null, outcome: task.outcome } : {}),
  }
}
