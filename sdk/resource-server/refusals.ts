// Every refusal the helper can give, in one table of status, challenge and body (RFC 6750 §3.1,
// RFC 9449 §7.1, RFC 9728 §5.1). Pure: the core picks one, the adapters send it.
import { type ChallengeParams, challenge, jsonReply, type Reply, type Scheme } from './reply.ts'

export interface ChallengeContext {
  /** RFC 9728 §5.1: the metadata URL named in every challenge. */
  resourceMetadata: string
  /** RFC 9449 §5.1: the proof algorithms this resource accepts, space-separated. */
  dpopAlgs: string
  /** Whether this resource takes only DPoP-bound tokens (its metadata says so too). */
  dpopRequired: boolean
}

/** The fixed public descriptions: which check failed is said only as far as the client can act on it. */
export const DESCRIPTIONS = {
  malformed: 'the Authorization header is malformed',
  invalid: 'the access token is invalid',
  expired: 'the access token has expired',
  audience: 'the access token is not meant for this resource',
  inactive: 'the access token is not active',
  boundAsBearer: 'the access token is DPoP-bound: present it with the DPoP scheme and a proof',
  notBound: 'the access token is not DPoP-bound',
  bindingRequired: 'this resource requires a DPoP-bound access token',
  proofRequired: 'a DPoP proof is required',
  proofInvalid: 'the DPoP proof is invalid',
  scope: 'the access token does not carry the scope this request needs',
  unavailable: 'the authorization server cannot be reached',
  evaluationFailed: 'the authorization decision could not be obtained',
} as const

function refuse(
  ctx: ChallengeContext,
  status: number,
  scheme: Scheme,
  params: Omit<ChallengeParams, 'resource_metadata' | 'algs'>,
): Reply {
  const algs = scheme === 'DPoP' ? { algs: ctx.dpopAlgs } : {}
  const header = challenge(scheme, { ...params, ...algs, resource_metadata: ctx.resourceMetadata })
  const body = params.error ? { error: params.error, error_description: params.error_description } : undefined
  return body
    ? jsonReply(status, body, { 'www-authenticate': header })
    : { status, headers: { 'www-authenticate': header, 'cache-control': 'no-store' } }
}

/** RFC 6750 §3.1: a request with no credentials gets the challenge alone, no error code. */
export const noToken = (ctx: ChallengeContext): Reply => refuse(ctx, 401, ctx.dpopRequired ? 'DPoP' : 'Bearer', {})

/** RFC 6750 §3.1 invalid_request: a malformed Authorization header. */
export const malformed = (ctx: ChallengeContext): Reply =>
  refuse(ctx, 400, ctx.dpopRequired ? 'DPoP' : 'Bearer', {
    error: 'invalid_request',
    error_description: DESCRIPTIONS.malformed,
  })

/** RFC 6750 §3.1 invalid_token, in the scheme the client should use next. */
export const invalidToken = (ctx: ChallengeContext, scheme: Scheme, description: string): Reply =>
  refuse(ctx, 401, scheme, { error: 'invalid_token', error_description: description })

/** RFC 9449 §7.1 invalid_dpop_proof. */
export const invalidProof = (ctx: ChallengeContext, description: string): Reply =>
  refuse(ctx, 401, 'DPoP', { error: 'invalid_dpop_proof', error_description: description })

/** RFC 6750 §3.1 insufficient_scope, naming the scope needed. */
export const insufficientScope = (ctx: ChallengeContext, scheme: Scheme, scope: readonly string[]): Reply =>
  refuse(ctx, 403, scheme, {
    error: 'insufficient_scope',
    error_description: DESCRIPTIONS.scope,
    scope: scope.join(' '),
  })

/** The keys or the decision could not be had: fail closed, as an outage (never a token problem). */
export const unavailable = (description: string = DESCRIPTIONS.unavailable): Reply =>
  jsonReply(503, { error: 'temporarily_unavailable', error_description: description }, { 'retry-after': '5' })

/** A problem of our own configuration or of the answer we got (a bug, not an outage). */
export const serverError = (description: string): Reply =>
  jsonReply(500, { error: 'server_error', error_description: description })

/**
 * An evaluation that is not an allow: the reason code and decision id, nothing else. A token no longer
 * active is RFC 6750 §3.1 invalid_token (401, the client needs a new token); every other deny is 403.
 * No decision at all is an outage (503) or our own misconfiguration (500).
 */
export function evaluationRefusal(
  ctx: ChallengeContext,
  scheme: Scheme,
  evaluation: { reason: string; decisionId: string; failure?: undefined } | { failure: { status: 500 | 503 } },
): Reply {
  if (evaluation.failure) {
    return evaluation.failure.status === 503
      ? unavailable(DESCRIPTIONS.evaluationFailed)
      : serverError(DESCRIPTIONS.evaluationFailed)
  }
  const body = { reason: evaluation.reason, decision_id: evaluation.decisionId }
  if (evaluation.reason !== 'token_inactive') return jsonReply(403, body)
  const { headers } = invalidToken(ctx, scheme, DESCRIPTIONS.inactive)
  return jsonReply(401, body, { 'www-authenticate': headers['www-authenticate'] as string })
}
