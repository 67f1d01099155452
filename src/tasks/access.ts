// May this actor work on this task for this subject? One answer for the token exchange (a token for
// the task) and for POST /tasks (a subtask of it). Pure: the caller loads the task and its listed actors.
import { type ActClaim, ourActorsOf } from '../policy/act-claim.ts'

export interface TaskAccessFacts {
  /** The task id asked for. */
  id: string
  /** The task as stored; undefined when no task has the requested id. */
  task?: { task_id: string; client_id: string; delegator: string; delegator_issuer: string }
  /** The task and every task above it are neither completed nor expired. */
  live: boolean
  /** The clients the task's policy paths list as actors (its possible sub-agents). */
  listedActors: readonly string[]
  /** The person the work is for: the subject token's `sub`, the issuer that vouches for it, its chain. */
  subject: { sub: string; origin: string; act?: ActClaim | undefined; taskPath: readonly string[] }
  /** Who works on it now: the caller, or the actor an intermediary presents. */
  actor: string
}

/** undefined when the actor may work on the task; else why not (for the decision record only). */
export function taskAccessProblem(facts: TaskAccessFacts): string | undefined {
  const { task, subject, actor } = facts
  if (!task || !facts.live) return `task ${facts.id} is unknown, completed or expired`
  if (task.delegator !== subject.sub || task.delegator_issuer !== subject.origin) {
    return 'the subject is not the task delegator'
  }
  if (task.client_id === actor) return undefined
  // Another client works on the task only as a sub-agent: listed as an actor by the task's paths, and
  // working from a token the task's agent delegated (its chain names the agent, or it is a token of the task).
  const delegatedByAgent = ourActorsOf(subject.act).includes(task.client_id) || subject.taskPath.includes(task.task_id)
  if (delegatedByAgent && facts.listedActors.includes(actor)) return undefined
  return `${actor} is neither the task agent nor a sub-agent it delegated to`
}
