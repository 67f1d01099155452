// The one place that decides what a refused client is told. Several reasons share one public face on
// purpose (RFC 8693 §2.2.2; no oracle): a caller must not learn whether a token was unknown, expired,
// revoked, foreign or merely unacceptable. The decision record keeps the precise reason and detail.
import { errors } from 'oidc-provider'
import type { Denied } from '../delegation/denied.ts'
import type { DenialReason } from '../delegation/decision.ts'
import { GRANT_NOT_ALLOWED, RESOURCE_INVALID, SCOPE_INVALID, TOKEN_INVALID } from '../oauth/descriptions.ts'

const invalidToken = () => new errors.InvalidRequest(TOKEN_INVALID)
const invalidTarget = () => new errors.InvalidTarget(RESOURCE_INVALID)

const publicError: Record<DenialReason, () => Error> = {
  'request.malformed': invalidToken,
  'request.unsupported_token_type': invalidToken,
  'request.unsupported_requested_type': () => new errors.InvalidRequest('requested_token_type is not supported'),
  // RFC 9449 §5 and §8: problems with the request's own proof are the client's to fix, so they are named.
  'request.dpop_required': () => new errors.InvalidDpopProof('a DPoP proof is required'),
  'request.dpop_invalid': () => new errors.InvalidDpopProof('the DPoP proof is invalid'),
  'request.dpop_nonce': () => new errors.UseDpopNonce('a DPoP proof with the server-provided nonce is required'),
  'request.task_required': () => new errors.InvalidRequest('task_id is required for this resource'),
  'client.authentication_failed': () => new errors.InvalidClient('client authentication failed'),
  'client.grant_not_allowed': () => new errors.UnauthorizedClient(GRANT_NOT_ALLOWED),
  'client.not_confidential': () => new errors.UnauthorizedClient(GRANT_NOT_ALLOWED),
  'subject_token.missing': invalidToken,
  'subject_token.invalid': invalidToken,
  'subject_token.type_mismatch': invalidToken,
  'subject_token.issuer_not_allowed': invalidToken,
  'subject_token.type_not_allowed': invalidToken,
  'subject_token.holder_not_allowed': invalidToken,
  'subject_token.key_not_proven': invalidToken,
  'actor_token.invalid': invalidToken,
  'actor_token.not_bound_to_client': invalidToken,
  'actor_token.key_not_proven': invalidToken,
  'delegation.actor_not_allowed': invalidToken,
  'delegation.may_act_mismatch': invalidToken,
  'delegation.too_deep': invalidToken,
  'delegation.mode_not_allowed': invalidToken,
  'delegation.impersonation_of_delegated_token': invalidToken,
  'delegation.chain_spliced': invalidToken,
  'delegation.roles_swapped': invalidToken,
  'delegation.cycle': invalidToken,
  'task.invalid': invalidToken,
  'lifetime.exhausted': invalidToken,
  'target.unknown': invalidTarget,
  'target.not_bound': invalidTarget,
  'target.mixed_policies': invalidTarget,
  'target.not_in_task': invalidTarget,
  // No `scope` member: the refused value is the caller's own input (nothing is echoed).
  'scope.not_allowed': () => new errors.InvalidScope(SCOPE_INVALID, undefined as unknown as string),
}

export const toOAuthError = (denied: Denied): Error => publicError[denied.reason]()
