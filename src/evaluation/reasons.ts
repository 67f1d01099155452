// Why an evaluation denies: one closed list of codes, each with the one sentence a caller may show. The
// decision record keeps the precise cause (detail) for operators; the caller never learns more than the code.

export const DENY_REASONS = {
  token_inactive: 'the access token is not active for this resource',
  insufficient_scope: 'the access token lacks a scope this action requires',
  action_not_allowed: 'this action is not allowed',
  task_required: 'this action is allowed only within a task',
  outside_task_intent: "this action is outside the task's declared actions",
  chain_too_deep: 'too many agents stand between the person and this action',
  actor_not_allowed: 'this agent may not take this action',
  approval_required: 'the person must approve this action first',
  approval_denied: 'the person refused this action',
  rate_exceeded: 'this action was taken too often for this task; retry later',
} as const

export type DenyReason = keyof typeof DENY_REASONS
