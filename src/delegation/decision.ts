// The vocabulary of outcomes. Reasons are stable identifiers: they appear in decision records, audit
// and logs, so renaming one is a breaking change. The public face of each is in token-exchange/denials.ts.
import type { ActClaim } from '../policy/act-claim.ts'
import type { TokenDependencies } from './dependencies.ts'

export type DenialReason =
  | 'request.malformed'
  | 'request.unsupported_token_type'
  | 'request.unsupported_requested_type'
  | 'request.task_required'
  | 'request.dpop_required'
  | 'request.dpop_invalid'
  | 'request.dpop_nonce'
  | 'client.authentication_failed'
  | 'client.grant_not_allowed'
  | 'client.not_confidential'
  | 'subject_token.missing'
  | 'subject_token.invalid'
  | 'subject_token.type_mismatch'
  | 'subject_token.issuer_not_allowed'
  | 'subject_token.type_not_allowed'
  | 'subject_token.holder_not_allowed'
  | 'subject_token.key_not_proven'
  | 'actor_token.invalid'
  | 'actor_token.not_bound_to_client'
  | 'actor_token.key_not_proven'
  | 'delegation.actor_not_allowed'
  | 'delegation.may_act_mismatch'
  | 'delegation.too_deep'
  | 'delegation.mode_not_allowed'
  | 'delegation.impersonation_of_delegated_token'
  | 'delegation.chain_spliced'
  | 'delegation.roles_swapped'
  | 'delegation.cycle'
  | 'task.invalid'
  | 'target.not_in_task'
  | 'target.unknown'
  | 'target.not_bound'
  | 'target.mixed_policies'
  | 'scope.not_allowed'
  | 'lifetime.exhausted'

/**
 * What narrowed the outcome, and by what: `by` names an input (`subject_token`, `actor_token`,
 * `task`, `resource`, `client`, `actor`: the registered scopes of the actor an intermediary presents) or
 * a policy level (`policy:<path>`); `scope` lists what it removed (in a refusal, which requested scopes
 * it does not allow), `lifetime` marks the input that set the expiry.
 */
export interface Constraint {
  by: string
  scope?: string[]
  lifetime?: true
}

export interface Allowed {
  allow: true
  reason: 'allowed'
  scope: string[]
  /** The delegation chain of the new token (RFC 8693 §4.1); none for impersonation. */
  act?: ActClaim
  /** Epoch seconds, and the seconds granted from now. */
  expiresAt: number
  lifetime: number
  constrainedBy: Constraint[]
  /** Every token and task the new token's activity depends on (dependencies.ts). */
  dependencies: TokenDependencies
  /** Every client whose disabling ends the new token. */
  parties: string[]
}

export interface Refused {
  allow: false
  reason: DenialReason
  detail?: string
  constrainedBy?: Constraint[]
}

export type Decision = Allowed | Refused
