// The task-capping rules, pure: a task may only hold what the policy paths, the delegating person's
// token and (for a subtask) its parent allow. Scope beyond that is refused; lifetime is capped.
import { narrowScope } from '../policy/narrow-scope.ts'

/** Lifetime of a task when no policy path sets task.maxLifetime. */
export const DEFAULT_TASK_LIFETIME = 3600

export interface TaskRequest {
  resources: readonly string[]
  scope?: readonly string[]
  /** Seconds, as requested; capped, never refused. */
  expiresIn?: number
}

export interface TaskBounds {
  now: number
  subject: { scope?: readonly string[]; expiresAt: number }
  /** The agent's registered scopes (Client spec.scopes): a task holds nothing its agent may never get. */
  clientScopes: readonly string[]
  /** Each requested resource: its catalogue, its path's scope ceiling and task lifetime ceiling. */
  resources: ReadonlyArray<{
    uri: string
    catalogue: readonly string[]
    ceiling?: readonly string[]
    maxLifetime?: number
  }>
  parent?: { resources: readonly string[]; scope: readonly string[]; expiresAt: number }
}

export type TaskCap =
  | { ok: true; scope: string[]; expiresAt: number }
  | { ok: false; error: 'invalid_target' | 'invalid_scope' | 'invalid_request'; detail: string }

export function capTask(request: TaskRequest, bounds: TaskBounds): TaskCap {
  const { parent } = bounds
  const outside = parent && request.resources.find((uri) => !parent.resources.includes(uri))
  if (outside) return { ok: false, error: 'invalid_target', detail: `${outside} is not a resource of the parent task` }

  // A scope is possible when some requested resource offers it and its path allows it there.
  const offered = [
    ...new Set(bounds.resources.flatMap((r) => r.catalogue.filter((s) => r.ceiling?.includes(s) ?? true))),
  ]
  const scope = narrowScope(request.scope, [offered, bounds.subject.scope, parent?.scope, bounds.clientScopes])
  if (scope === undefined) return { ok: false, error: 'invalid_scope', detail: `requested ${request.scope?.join(' ')}` }
  if (scope.length === 0) return { ok: false, error: 'invalid_scope', detail: 'the narrowed scope is empty' }

  const policyLifetime = Math.min(...bounds.resources.map((r) => r.maxLifetime ?? DEFAULT_TASK_LIFETIME))
  const expiresAt = Math.min(
    bounds.now + (request.expiresIn ?? Number.POSITIVE_INFINITY),
    bounds.now + policyLifetime,
    bounds.subject.expiresAt,
    parent?.expiresAt ?? Number.POSITIVE_INFINITY,
  )
  if (expiresAt <= bounds.now)
    return { ok: false, error: 'invalid_request', detail: 'no lifetime left (subject token or parent task ended)' }
  return { ok: true, scope, expiresAt }
}
