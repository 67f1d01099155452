// May this token's holder take this action on this resource now? One pure decision over loaded facts, in the
// order the rules apply: the token, the policy's rule for the action (default deny), the declared intent of
// the token's tasks, the path's task requirement, then the rule's requirements. Approval and rate come last,
// from the edge (they are state).
import type { ActClaim } from '../policy/act-claim.ts'
import { actorsOf, depthOf, ourActorsOf } from '../policy/act-claim.ts'
import { type ActionRequirement, resolveAction } from '../policy/action-requirement.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { withinIntent } from '../tasks/intent.ts'
import type { DenyReason } from './reasons.ts'

export interface EvaluationFacts {
  now: number
  action: string
  /** The token, verified and active at `now` for the resource asked about; undefined otherwise. */
  token?: {
    holder: string
    scope: readonly string[]
    act?: ActClaim | undefined
    expiresAt: number
    task?: { id: string; expiresAt: number } | undefined
    /** The declared actions of every task the token depends on (none declared: that task adds no bound). */
    intents: ReadonlyArray<{ task_id: string; actions: readonly string[] }>
  }
  /** The policy bound now to the token's (holder, resource, grant): 'none' when the grant needs none. */
  policy: EffectivePolicy | 'none' | 'unbound'
}

export type EvaluationDecision =
  | { allow: true; requirement?: ActionRequirement; cacheMaxAge?: number }
  | { allow: false; reason: DenyReason; detail: string }

const deny = (reason: DenyReason, detail: string): EvaluationDecision => ({ allow: false, reason, detail })

export function decideEvaluation(facts: EvaluationFacts): EvaluationDecision {
  const { token, action } = facts
  if (!token) return deny('token_inactive', 'the token is invalid, inactive or not for this resource')
  if (facts.policy === 'unbound')
    return deny('action_not_allowed', 'no policy path is bound to the token holder for this resource')
  const policy = facts.policy === 'none' ? undefined : facts.policy
  const resolution = policy ? resolveAction(policy.actions, action) : { kind: 'unruled' as const }
  if (resolution.kind === 'denied')
    return deny('action_not_allowed', `no rule for ${action} at policy path ${resolution.path}`)
  const outside = token.intents.find((intent) => !withinIntent(intent.actions, action))
  if (outside) return deny('outside_task_intent', `${action} is not among the actions task ${outside.task_id} declared`)
  // A path in force now that requires a task (task.required) requires it of every token, whatever the rule says.
  if (policy?.task.required && !token.task) return deny('task_required', `policy path ${policy.path} requires a task`)
  if (resolution.kind === 'unruled') return { allow: true }

  const { requirement } = resolution
  if (requirement.taskRequired && !token.task) return deny('task_required', `${action} requires a task`)
  const missing = requirement.scopes.filter((scope) => !token.scope.includes(scope))
  if (missing.length > 0) return deny('insufficient_scope', `missing scope ${missing.join(' ')}`)
  // The path in force now caps the scope the token was issued with: a narrowing applies to issued tokens.
  const withdrawn = requirement.scopes.filter((scope) => policy?.scopes && !policy.scopes.includes(scope))
  if (withdrawn.length > 0)
    return deny(
      'insufficient_scope',
      `missing scope ${withdrawn.join(' ')} (not allowed by policy path ${policy?.path} now)`,
    )
  const depth = depthOf(token.act)
  if (requirement.maxDepth !== undefined && depth > requirement.maxDepth)
    return deny(
      'chain_too_deep',
      `chain depth ${depth} exceeds ${requirement.maxDepth} (${actorsOf(token.act).join(' < ')})`,
    )
  // The current actor (RFC 8693 §4.1: the outermost act): the agent a trusted intermediary holds the token for,
  // else the holder.
  const actor = ourActorsOf(token.act)[0] ?? token.holder
  if (requirement.actors !== undefined && !requirement.actors.includes(actor))
    return deny('actor_not_allowed', `${actor} is not among the actors of ${action}`)
  return {
    allow: true,
    requirement,
    ...(requirement.cache !== undefined ? { cacheMaxAge: cacheMaxAge(requirement.cache, facts) } : {}),
  }
}

/** Never past the token's end nor its task's (an allow reused by a resource server must die with them). */
function cacheMaxAge(cache: number, facts: EvaluationFacts): number {
  const ends = [facts.now + cache, facts.token?.expiresAt ?? facts.now, facts.token?.task?.expiresAt ?? Infinity]
  return Math.max(0, Math.min(...ends) - facts.now)
}
