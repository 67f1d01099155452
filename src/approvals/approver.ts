// Who may answer an approval: the person who delegated, with a token of their own, never the agent. Pure.
// The token must name the delegator (same `sub`, vouched for by the same issuer), carry no `act` (nobody acts
// for the person here), not be held by the agent or an actor of the chain, not be exchanged from another token,
// and be issued after the request: the agent was handed the person's earlier tokens (to start the task), so
// none of those can approve, nor anything another client exchanged them for (RFC 8693 impersonation: no act).
import { toEpoch } from '../lib/clock.ts'

export interface ApproverFacts {
  sub: string
  origin: string
  hasAct: boolean
  /** For our own tokens: the client it was issued to. */
  holder?: string | undefined
  /** For our own tokens: obtained by token exchange, from a token someone held before (RFC 8693). */
  exchanged: boolean
  issuedAt: number | undefined
}

export interface ApprovalFor {
  delegator: string
  delegator_issuer: string
  holder: string
  actor_chain: readonly string[]
  created_at: Date
}

/** undefined when this token may answer the approval; else why not (logged, never told). */
export function approverProblem(facts: ApproverFacts, approval: ApprovalFor): string | undefined {
  if (facts.sub !== approval.delegator || facts.origin !== approval.delegator_issuer) return 'not the delegator'
  if (facts.hasAct) return 'a delegated token (it has act)'
  if (facts.holder !== undefined && (facts.holder === approval.holder || approval.actor_chain.includes(facts.holder)))
    return 'a token held by the agent or an actor of its chain'
  if (facts.exchanged) return 'a token exchanged from another token'
  // Strictly after the request's second, with no clock tolerance: a token issued in that second, or a little
  // before it, may be the one the agent was handed just before it asked (iat is whole seconds).
  if (facts.issuedAt === undefined || facts.issuedAt <= toEpoch(approval.created_at))
    return 'issued before the approval was requested'
  return undefined
}
