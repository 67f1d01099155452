// How a task ended, as its agent (or an operator) reports it; the tasks table's check constraint holds
// the same three values (migrations/0003).
const TASK_OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const

export type TaskOutcome = (typeof TASK_OUTCOMES)[number]

export const isTaskOutcome = (value: string): value is TaskOutcome =>
  (TASK_OUTCOMES as readonly string[]).includes(value)
