// The vocabulary of outcomes. Reasons are stable identifiers: they appear in decision records, audit
// and logs, so renaming one is a breaking change. The public face of each is in token-exchange/denials.ts.
import type { ActClaim } from './act-claim.ts'

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

export type Decision =
  | { allow: true; scope: string[]; act?: ActClaim; expiresAt: number }
  | { allow: false; reason: DenialReason; detail?: string }
