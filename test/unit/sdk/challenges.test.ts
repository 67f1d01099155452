import { describe, expect, it } from 'vitest'
import {
  type ChallengeContext,
  evaluationRefusal,
  insufficientScope,
  invalidProof,
  invalidToken,
  malformed,
  noToken,
  serverError,
  unavailable,
} from '../../../sdk/resource-server/refusals.ts'
import { challenge } from '../../../sdk/resource-server/reply.ts'

const ctx: ChallengeContext = {
  resourceMetadata: 'https://api.test/.well-known/oauth-protected-resource/v1',
  dpopAlgs: 'ES256 EdDSA',
  dpopRequired: false,
}
const META = `resource_metadata="${ctx.resourceMetadata}"`
const json = { 'content-type': 'application/json', 'cache-control': 'no-store' }

describe('challenge', () => {
  it('writes parameters in a fixed order, skipping absent ones', () => {
    expect(challenge('Bearer', { resource_metadata: 'u', scope: 's', error: 'e' })).toBe(
      'Bearer error="e", scope="s", resource_metadata="u"',
    )
  })

  it('escapes quotes and backslashes (RFC 9110 §5.6.4)', () => {
    expect(challenge('Bearer', { resource_metadata: 'a"b\\c' })).toBe('Bearer resource_metadata="a\\"b\\\\c"')
  })
})

describe('refusals', () => {
  it('answers no token with the bare challenge, no error, no body (RFC 6750 §3.1)', () => {
    expect(noToken(ctx)).toEqual({
      status: 401,
      headers: { 'www-authenticate': `Bearer ${META}`, 'cache-control': 'no-store' },
    })
    expect(noToken({ ...ctx, dpopRequired: true }).headers['www-authenticate']).toBe(`DPoP algs="ES256 EdDSA", ${META}`)
  })

  it('answers a malformed header with 400 invalid_request', () => {
    expect(malformed(ctx)).toEqual({
      status: 400,
      headers: {
        ...json,
        'www-authenticate': `Bearer error="invalid_request", error_description="the Authorization header is malformed", ${META}`,
      },
      body: '{"error":"invalid_request","error_description":"the Authorization header is malformed"}',
    })
  })

  it('answers invalid_token in the scheme asked for, DPoP naming its algorithms', () => {
    expect(invalidToken(ctx, 'Bearer', 'x')).toEqual({
      status: 401,
      headers: { ...json, 'www-authenticate': `Bearer error="invalid_token", error_description="x", ${META}` },
      body: '{"error":"invalid_token","error_description":"x"}',
    })
    expect(invalidToken(ctx, 'DPoP', 'x').headers['www-authenticate']).toBe(
      `DPoP error="invalid_token", error_description="x", algs="ES256 EdDSA", ${META}`,
    )
    expect(invalidProof(ctx, 'y').headers['www-authenticate']).toBe(
      `DPoP error="invalid_dpop_proof", error_description="y", algs="ES256 EdDSA", ${META}`,
    )
  })

  it('answers insufficient_scope with 403 and every scope needed', () => {
    const reply = insufficientScope(ctx, 'Bearer', ['tickets:read', 'tickets:write'])
    expect(reply.status).toBe(403)
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="the access token does not carry the scope this request needs", scope="tickets:read tickets:write", ${META}`,
    )
  })

  it('answers an outage with 503 and a bug with 500, neither with a challenge', () => {
    expect(unavailable()).toEqual({
      status: 503,
      headers: { ...json, 'retry-after': '5' },
      body: '{"error":"temporarily_unavailable","error_description":"the authorization server cannot be reached"}',
    })
    expect(serverError('z')).toEqual({
      status: 500,
      headers: json,
      body: '{"error":"server_error","error_description":"z"}',
    })
  })
})

describe('evaluationRefusal', () => {
  const decisionId = '0b8a3c53-7c36-4b1c-9a51-2f0e4c7a9d10'

  it.each(['approval_required', 'rate_exceeded', 'outside_task_intent', 'a_reason_from_a_newer_mandate'])(
    'answers a %s deny with 403 and only the reason and decision id',
    (reason) => {
      expect(evaluationRefusal(ctx, 'Bearer', { reason, decisionId })).toEqual({
        status: 403,
        headers: json,
        body: JSON.stringify({ reason, decision_id: decisionId }),
      })
    },
  )

  it('answers token_inactive with 401 invalid_token, in the scheme the token came with', () => {
    expect(evaluationRefusal(ctx, 'DPoP', { reason: 'token_inactive', decisionId })).toEqual({
      status: 401,
      headers: {
        ...json,
        'www-authenticate': `DPoP error="invalid_token", error_description="the access token is not active", algs="ES256 EdDSA", ${META}`,
      },
      body: JSON.stringify({ reason: 'token_inactive', decision_id: decisionId }),
    })
  })

  it('answers no decision with 503 for an outage and 500 for a misconfiguration', () => {
    const description = 'the authorization decision could not be obtained'
    expect(evaluationRefusal(ctx, 'Bearer', { failure: { status: 503 } })).toEqual(unavailable(description))
    expect(evaluationRefusal(ctx, 'Bearer', { failure: { status: 500 } })).toEqual(serverError(description))
    expect(unavailable(description).status).toBe(503)
  })
})
