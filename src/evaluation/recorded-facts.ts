// An evaluation's facts as its decision record keeps them (decisions/facts.ts), and the evaluation decided
// again from them against a configuration's policy: the same decision (decide.ts) on the same token facts at
// the same time, only the policy bound to the token's (holder, resource, grant) read from the catalog given.
// Pure. The approval and rate gates are state, not policy: a replay reports a gated allow as such.
import type { Catalog } from '../catalog/catalog.ts'
import type { RecordedEvaluation } from '../decisions/facts.ts'
import { loadBoundPolicy } from '../delegation/load-policy.ts'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { decideEvaluation, type EvaluationDecision, type EvaluationFacts } from './decide.ts'

/**
 * The binding in force decides (a narrowing change applies to tokens already issued). An exchanged token needs
 * its binding; a client_credentials token without one has no ceiling (delegation/load-policy.ts).
 */
export function evaluationPolicy(
  catalog: Catalog,
  holder: string,
  resource: string,
  grantType: string,
): EvaluationFacts['policy'] {
  const bound = loadBoundPolicy(catalog, holder, resource, grantType)
  return bound === 'unreadable' || (bound === undefined && grantType === TOKEN_EXCHANGE) ? 'unbound' : (bound ?? 'none')
}

export function recordEvaluation(
  facts: EvaluationFacts,
  resource: string,
  grantType: string | undefined,
): RecordedEvaluation {
  const { token } = facts
  return {
    v: 1,
    now: facts.now,
    action: facts.action,
    resource,
    ...(token && grantType !== undefined
      ? {
          token: {
            client_id: token.holder,
            grant_type: grantType,
            scope: [...token.scope],
            ...(token.act ? { act: token.act } : {}),
            exp: token.expiresAt,
            ...(token.task ? { task: { id: token.task.id, exp: token.task.expiresAt } } : {}),
            intents: token.intents.map((intent) => ({ task_id: intent.task_id, actions: [...intent.actions] })),
          },
        }
      : {}),
  }
}

/** The evaluation decided again, at its own time, by the policy the catalog binds to the token's holder. */
export function redecideEvaluation(recorded: RecordedEvaluation, catalog: Catalog): EvaluationDecision {
  const { token } = recorded
  if (!token) return decideEvaluation({ now: recorded.now, action: recorded.action, policy: 'unbound' })
  return decideEvaluation({
    now: recorded.now,
    action: recorded.action,
    policy: evaluationPolicy(catalog, token.client_id, recorded.resource, token.grant_type),
    token: {
      holder: token.client_id,
      scope: token.scope,
      act: token.act,
      expiresAt: token.exp,
      task: token.task && { id: token.task.id, expiresAt: token.task.exp },
      intents: token.intents,
    },
  })
}
